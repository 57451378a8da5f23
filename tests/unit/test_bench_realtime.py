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
