"""The fake Messages API answers every request pregen makes (issue 27's fault floor: no request is unanswerable),
under the same faults as a generation, and its keyed fault draws do not depend on the order requests arrive in."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.claude_sections import ClaudeSectionWriter
from pregen.domain.models import ContentRequest, Kind
from pregen.domain.near import offline_verdict
from pregen.domain.pricing import default_prices
from pregen.domain.programs import default_catalogue, plan_sections, section_problems
from pregen_fakes.fake_anthropic import FakeAnthropic, FaultRates, Reply, request_kind, running_fake_anthropic

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.wall_clock  # the fake stamps its records with the wall clock
WORDING = ContentRequest(kind=Kind.LESSON, subject="Biology", topic="Photosynthesis basics", grade="7")
SAME = ContentRequest(kind=Kind.LESSON, subject="Biology", topic="Intro to photosynthesis", grade="7")
OTHER = ContentRequest(kind=Kind.LESSON, subject="Biology", topic="Photosynthesis without light", grade="7")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as fake:
        yield fake


@pytest.fixture
def generator(server: FakeAnthropic) -> Iterator[AnthropicGenerator]:
    server.reset()
    yield AnthropicGenerator(
        api_key="sk-test-fake",
        model_for={Kind.LESSON: "claude-haiku-5-5", Kind.EXAM: "claude-sonnet-5-5"}.__getitem__,
        prices=default_prices(),
        base_url=server.base_url,
        max_retries=0,
        timeout_s=10.0,
    )
    assert server.pending == 0


@pytest.mark.parametrize("candidate", [SAME, OTHER], ids=["same", "negated"])
def test_the_near_duplicate_judge_is_answered_with_the_offline_verdict(
    server: FakeAnthropic, generator: AnthropicGenerator, candidate: ContentRequest
) -> None:
    # When the judge asks the fake whether the library's lesson serves the wording
    verdict = generator.judge_same(WORDING, candidate)
    # Then it gets the offline judge's verdict in one call, answered 200 (before: 400, the judge failed)
    expected = offline_verdict(WORDING, candidate)
    assert (verdict.same, verdict.why, verdict.calls) == (expected.same, expected.why, 1)
    (sent,) = server.requests
    assert (sent.status, sent.fault, request_kind(sent.body)) == (200, None, "judge")


def test_an_invalid_judgement_is_a_fault_like_any_other_and_is_re_asked(
    server: FakeAnthropic, generator: AnthropicGenerator
) -> None:
    # Given the fake's next answer is schema-invalid (the fault mix's "invalid")
    server.script([Reply.invalid_offline()])
    # When the judge asks
    verdict = generator.judge_same(WORDING, SAME)
    # Then the first answer lacked a required field (a judgement has no title to drop) and the re-ask was answered
    first, second = server.requests
    assert first.fault == "invalid"
    answer = json.loads(first.response["content"][0]["text"])
    assert set(answer) < {"same", "why"}
    assert len(second.messages) == 3  # the re-ask carries the invalid answer and its errors
    assert (verdict.same, verdict.calls) == (True, 2)


def test_an_exam_section_is_answered_from_its_schema_without_a_script(
    server: FakeAnthropic, generator: AnthropicGenerator
) -> None:
    # Given an exam section's prompt, which holds no request JSON for the fake to read
    spec = plan_sections(default_catalogue().program_for("diagnostic"), "diagnostic", "exam-fake")[0]
    # When it is written against the fake with nothing scripted
    generation = ClaudeSectionWriter(generator).generate_section(spec)
    # Then the fake answered it (from the output schema) with a section that meets the spec, first time
    assert section_problems(spec, generation.body) == []
    (sent,) = server.requests
    assert (sent.status, request_kind(sent.body)) == (200, "other")


def _faults_in_order(order: list[int], *, keyed: bool) -> dict[int, str | None]:
    """Serve 40 distinct requests (twice each) in ``order`` on a fresh fake; each request's fault by index."""
    rates = FaultRates(rate_limited=0.2, invalid=0.2, truncated=0.1, seed=11, keyed=keyed)
    fake = FakeAnthropic(faults=rates)
    try:
        faults: dict[int, str | None] = {}
        for n, i in enumerate(order):
            request = ContentRequest(kind=Kind.LESSON, subject="Maths", topic=f"topic {i % 40}", grade="5")
            body = {
                "model": "claude-haiku-5-5",
                "max_tokens": 100,
                "messages": [{"role": "user", "content": f"Request (JSON):\n{json.dumps(request.canonical())}"}],
            }
            fake.handle("/v1/messages", {"x-api-key": "k"}, json.dumps(body).encode())
            faults[i] = fake.requests[n].fault
        return faults
    finally:
        fake._httpd.server_close()


def test_keyed_fault_draws_follow_the_seed_not_the_arrival_order() -> None:
    # Given 40 requests each sent twice (index i and i + 40: the same request again), in two different orders
    forward = list(range(80))
    shuffled = [*range(79, 39, -1), *range(39, -1, -1)]
    # When the fake draws keyed faults
    first, second = _faults_in_order(forward, keyed=True), _faults_in_order(shuffled, keyed=True)
    # Then every request meets the same fault in both orders (the first sending of a request and its repeat too,
    # though the repeat came first in the reversed order: the n-th sending of a request keys the draw)
    assert sum(f is not None for f in first.values()) >= 10  # the rates drew faults at all
    for i in range(40):
        assert (first[i], first[i + 40]) == (second[i + 40], second[i]), f"request {i}"
    # And the sequence draw (the default) depends on the order: the same comparison differs
    assert _faults_in_order(forward, keyed=False) != _faults_in_order(shuffled, keyed=False)
