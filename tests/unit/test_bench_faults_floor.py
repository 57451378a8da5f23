"""bench.faults' requests-per-job figure: what the fault mix allows, and where the requests beyond one per job go."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from bench.faults_common import FaultConfig, FaultReport, count_answers, expected_requests_per_job, extra_requests
from pregen.adapters.generators.prompts import judge_prompt, user_prompt
from pregen.domain.models import ContentRequest, Kind
from pregen_fakes.fake_anthropic import RecordedRequest

A = ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions", grade="5")
B = ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Decimals", grade="5")


def _request(request: ContentRequest, at: float, fault: str | None = None, *, re_ask: bool = False) -> RecordedRequest:
    messages: list[dict[str, Any]] = [{"role": "user", "content": user_prompt(request)}]
    if re_ask:
        messages += [{"role": "assistant", "content": "{}"}, {"role": "user", "content": "fix it"}]
    status = {None: 200, "invalid": 200, "rate_limit_error": 429, "client_gone": 0}[fault]
    return RecordedRequest("/v1/messages", {}, {"model": "m", "messages": messages}, status, {}, fault, at=at)


def _judgement(at: float) -> RecordedRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": judge_prompt(A, B)}]}
    return RecordedRequest("/v1/messages", {}, body, 200, {}, None, at=at)


def test_each_extra_request_is_put_down_to_what_the_keys_request_before_it_came_to() -> None:
    # Given key A asked four times (a 429, an invalid answer re-asked, a valid answer whose worker was killed, then
    # a valid one) and key B once directly and once in a batch, and one near-duplicate judgement
    killed = _request(A, 3.0)
    requests = [
        _request(A, 1.0, "rate_limit_error"),
        _request(A, 2.0, "invalid"),
        killed,
        _request(A, 4.0, re_ask=True),
        _request(B, 1.5),
        _judgement(0.5),
    ]
    batch_params = {"model": "m", "messages": [{"role": "user", "content": user_prompt(B)}]}
    fake = SimpleNamespace(
        requests=requests, batches={"b1": {"created_at": 1.0, "count": 1, "answered": [("c", batch_params, 200, None)]}}
    )
    report = FaultReport(jobs=2)
    # When the run's requests are read
    count_answers(report, fake, {id(killed)})
    extra_requests(report, fake, killed={id(killed)}, outlived=set())
    # Then each of A's three extra requests has its cause; B's direct call came after its valid batch answer
    assert report.extra == {
        "after 429": 1,
        "after invalid answer (re-ask)": 1,
        "after a billed answer lost to a kill": 1,
        "after a valid batch answer": 1,
    }
    # And the judgement is a model request of its own, not a generation of any key
    assert (report.model_requests, report.judge_requests, report.keys_asked) == (7, 1, 2)
    assert sum(report.valid_live.values()) == 2 and sum(report.valid_killed.values()) == 1
    assert report.faults_drawn == 2  # the 429 and the invalid answer


def test_the_expected_requests_per_job_follow_from_the_retried_faults() -> None:
    config = FaultConfig(crash_rate=0.02, billed_kill_rate=0.02, outlive_rate=0.01)
    # In process a crash comes before its call; the provider's retried faults are 20 % of the default mix
    p, expected = expected_requests_per_job(config, stack=False)
    assert p == pytest.approx(0.21)
    assert expected == pytest.approx(1 / 0.79)
    # On the stack a crash, a billed kill and an outlived call each lose a request too
    p, expected = expected_requests_per_job(config, stack=True)
    assert p == pytest.approx(0.25)
    assert expected == pytest.approx(4 / 3)


def test_a_judgement_never_counts_as_a_generation_of_a_key() -> None:
    report = FaultReport(jobs=1)
    fake = SimpleNamespace(requests=[_judgement(1.0), _judgement(2.0)], batches={})
    count_answers(report, fake)
    extra_requests(report, fake, killed=set(), outlived=set())
    assert (report.model_requests, report.judge_requests, report.keys_asked, report.extra) == (2, 2, 0, {})
    assert json.dumps(report.summary())  # the summary is printable with them
