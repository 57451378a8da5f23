"""The real-model-time floors' bookkeeping (bench.exams_warm, bench.realtime): when an exam warm counts as settled,
what the app's progress looks like, and that a timeout or a dead letter misses the floor."""

from __future__ import annotations

from typing import Any

from bench.exams_warm import WarmRun, _progress, floors, settled
from bench.realtime import StackHealth


def _inventory(ready: int, generating: int, target: int = 2, done: int = 0, total: int = 8) -> dict[str, Any]:
    exams = [{"status": "ready", "sections_done": total, "sections_total": total}] * ready
    exams += [{"status": "generating", "sections_done": done, "sections_total": total}] * generating
    exams += [{"status": "claimed", "sections_done": total, "sections_total": total}]
    return {"ready": ready, "generating": generating, "target": target, "failed": 0, "exams": exams}


def test_settled_needs_every_type_at_its_target_with_nothing_generating() -> None:
    assert settled({"diagnostic": _inventory(2, 0), "practice": _inventory(2, 0)})
    assert not settled({"diagnostic": _inventory(2, 0), "practice": _inventory(1, 1)})
    assert not settled({"diagnostic": _inventory(1, 0), "practice": _inventory(2, 0)})


def test_progress_counts_sections_of_live_exams_only() -> None:
    look = _progress(12.34, {"diagnostic": _inventory(1, 1, done=3), "practice": _inventory(0, 2, done=5, total=11)})
    assert look.at_s == 12.3
    assert look.by_type == {"diagnostic": (1, 1, 11, 16), "practice": (0, 2, 10, 22)}
    assert look.cell("practice") == "0 ready, 2 generating (10/22 sections)"


def test_a_timeout_or_a_dead_letter_misses_the_floor() -> None:
    clean = StackHealth({}, {"BackgroundDeadLetterQueue": 0})
    run = WarmRun(first_claim_s=30.0, ready_s=90.0, failed={"diagnostic": 0}, health=clean)
    assert all(met for _, met in floors(run))
    run.health = StackHealth({"WorkerFunction": 1}, {"BackgroundDeadLetterQueue": 0})
    assert dict(floors(run))["0 invocation timeouts"] is False
    run.health = StackHealth({}, {"BackgroundDeadLetterQueue": 3})
    assert dict(floors(run))["0 messages in any DLQ"] is False
    assert "3 (BackgroundDeadLetterQueue 3)" in run.health.rows()[1]
    run.health, run.ready_s = clean, None
    assert not all(met for _, met in floors(run))


def test_a_lesson_is_readable_only_once_its_content_is_in_the_course_body() -> None:
    from bench.course_floor import readable_lessons

    generating = {"modules": [{"module": 1, "parts": {"done": 3}}]}
    ready = {"modules": [{"lessons": [{"lesson": 1, "content": {}}, {"lesson": 2}]}, {"lessons": [{"content": {}}]}]}
    assert readable_lessons(generating) == 0
    assert readable_lessons(ready) == 2


def test_a_cron_answer_of_a_second_or_more_misses_the_floor() -> None:
    import argparse

    from bench.cron_answers import markdown

    args = argparse.Namespace(rounds=2, latency="realistic")
    fast = {"queue_report": {"seconds": [0.2, 0.4], "statuses": [202, 202], "ends": ["done", "done"]}}
    slow = {**fast, "warm_all": {"seconds": [0.3, 1.2], "statuses": [202, 202], "ends": ["done", "failed"]}}
    assert "met (worst 400 ms)" in markdown(fast, "0 / 0 / 0", [], args)
    text = markdown(slow, "0 / 0 / 0", [], args)
    assert "MISSED (worst 1200 ms)" in text
    assert "| `warm_all` | 202 | 750 | 1200 | done 1, failed 1 |" in text


Answers = list[tuple[dict[str, Any], str | None]]


def _fake_with(direct: Answers, batched: Answers) -> Any:
    """A stand-in for the fake Messages API's record: answered Messages requests and one batch's answers."""
    from types import SimpleNamespace

    from pregen_fakes.fake_anthropic import RecordedRequest

    requests = [RecordedRequest("/v1/messages", {}, body, 200, {}, fault) for body, fault in direct]
    answered = [(f"c{i}", body, 200, fault) for i, (body, fault) in enumerate(batched)]
    batches = {"b1": {"count": len(batched), "answered": answered}} if batched else {}
    return SimpleNamespace(requests=requests, batches=batches)


def _body(topic: str) -> dict[str, Any]:
    """A Messages body carrying a lesson request on ``topic`` where the worker's prompt puts it."""
    import json

    from pregen_fakes.fake_anthropic import REQUEST_MARKER

    spec = {"kind": "lesson", "subject": "math", "topic": topic, "grade": "5"}
    return {"messages": [{"role": "user", "content": f"Write it.\n{REQUEST_MARKER} {json.dumps(spec)}"}]}


def _key(topic: str) -> str:
    import json

    from pregen.domain.models import ContentRequest

    spec = {"kind": "lesson", "subject": "math", "topic": topic, "grade": "5"}
    return json.dumps(ContentRequest.model_validate(spec).canonical(), sort_keys=True)


def test_an_answer_to_a_killed_worker_or_a_superseded_batch_answer_is_not_a_double_generation() -> None:
    from bench.faults_common import FaultReport, account_billed, count_answers

    fake = _fake_with(
        [(_body("a"), None), (_body("a"), None), (_body("b"), None), (_body("c"), "invalid")],
        [(_body("b"), None), (_body("d"), None)],
    )
    report = FaultReport()
    killed = {id(fake.requests[0])}  # the first answer for "a" went to a worker killed just after
    count_answers(report, fake, killed)
    assert report.model_requests == 6 and report.batch_requests == 2
    assert report.generated_twice == []
    assert report.superseded == 1  # "b": a batch answer and a direct one
    account_billed(report, {_key("a"): True, _key("b"): True, _key("c"): False, _key("d"): True})
    assert report.unaccounted == []


def test_two_live_answers_for_a_key_or_a_thrown_away_answer_fail_the_run() -> None:
    from bench.faults_common import FaultReport, account_billed, count_answers

    fake = _fake_with([(_body("a"), None), (_body("a"), None), (_body("e"), None)], [])
    report = FaultReport(jobs=2, done=1, failed=1)
    count_answers(report, fake)
    assert report.generated_twice == [_key("a")]
    account_billed(report, {_key("a"): True, _key("e"): False})  # "e" was answered, yet its job failed
    assert report.unaccounted == [_key("e")]
    assert not report.ok
