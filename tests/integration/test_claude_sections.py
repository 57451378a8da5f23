"""Exam sections with Claude, against the fake Messages API over real HTTP: valid, re-asked, and refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.claude_sections import ClaudeSectionWriter
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.errors import ContentInvalid, GenerationFailed
from pregen.domain.models import Kind
from pregen.domain.pricing import default_prices
from pregen.domain.programs import default_catalogue, plan_sections, section_problems
from pregen.domain.work_budget import SECTION_MAX_TOKENS
from pregen_fakes.fake_anthropic import FakeAnthropic, Reply, running_fake_anthropic

if TYPE_CHECKING:
    from collections.abc import Iterator

SPEC = plan_sections(default_catalogue().program_for("diagnostic"), "diagnostic", "exam-claude")[2]
VALID = OfflineGenerator().generate_section(SPEC).body


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as fake:
        yield fake


@pytest.fixture
def writer(server: FakeAnthropic) -> Iterator[ClaudeSectionWriter]:
    server.reset()
    generator = AnthropicGenerator(
        api_key="sk-test-fake",
        model_for={Kind.EXAM: "claude-sonnet-5-5"}.__getitem__,
        prices=default_prices(),
        max_attempts=2,
        base_url=server.base_url,
        max_retries=0,
        timeout_s=10.0,
    )
    yield ClaudeSectionWriter(generator)
    assert server.pending == 0


def test_a_valid_section_comes_back_in_one_attempt(server: FakeAnthropic, writer: ClaudeSectionWriter) -> None:
    # Given the provider answers with a section that meets the spec
    server.script([Reply.json(VALID)])
    # When the section is written
    generation = writer.generate_section(SPEC)
    # Then it passes the spec's checks, on the exam model, with the section prompt and a cached style guide
    assert section_problems(SPEC, generation.body) == []
    assert (generation.generator, generation.model, generation.attempts) == ("anthropic", "claude-sonnet-5-5", 1)
    (sent,) = server.requests
    assert sent.body["max_tokens"] == SECTION_MAX_TOKENS
    assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert f"Domain: {SPEC.domain}" in sent.messages[0]["content"]
    assert f"Exactly {SPEC.count} questions" in sent.messages[0]["content"]


def test_a_section_that_misses_its_spec_is_re_asked_with_the_errors(
    server: FakeAnthropic, writer: ClaudeSectionWriter
) -> None:
    # Given a first answer one question short, then a valid one
    short = {**VALID, "questions": VALID["questions"][:-1]}
    server.script([Reply.json(short), Reply.json(VALID)])
    # When the section is written
    generation = writer.generate_section(SPEC)
    # Then the second request carried the errors and the second answer was kept
    assert generation.attempts == 2
    # (the section's schema says how many: the re-ask carries the schema's error)
    assert f"List should have at least {SPEC.count} items" in server.requests[1].messages[-1]["content"]


def test_a_section_still_invalid_after_every_attempt_fails_with_its_cost(
    server: FakeAnthropic, writer: ClaudeSectionWriter
) -> None:
    wrong_domain = {**VALID, "domain": "Something else"}
    server.script([Reply.json(wrong_domain), Reply.json(wrong_domain)])
    with pytest.raises(ContentInvalid) as info:
        writer.generate_section(SPEC)
    assert any(e.startswith("domain: Input should be") and SPEC.domain in e for e in info.value.errors)


def test_a_refused_section_fails_permanently(server: FakeAnthropic, writer: ClaudeSectionWriter) -> None:
    server.script([Reply.refusal()])
    with pytest.raises(GenerationFailed) as info:
        writer.generate_section(SPEC)
    assert info.value.retryable is False
