"""A course's lane (issue 29 item 4), on moto with the fake Anthropic server through the real adapter: the same course
built in the interactive lane and in the background lane, whose parts go through Message Batches, and the
background one's recorded cost against the interactive one's (the batch price from the fake's billed usage)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from aws_emulator.runtime import LambdaContext
from functions.cron import app as cron
from pregen import wiring
from pregen.domain.counters import Metric, name
from pregen.domain.spend import output_tokens
from pregen.services.batches import custom_id_for
from pregen.services.usage import day_of
from pregen.wiring import worker as worker_wiring
from pregen_fakes.fake_anthropic import FakeAnthropic, running_fake_anthropic
from tests.conftest import load_event
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.integration.conftest import Aws

# 4 modules x 6 lessons, no brain bytes: 24 lessons, 4 assessments (28 parts). The plan is a direct call in either
# lane, so the smaller the course the more of its cost it is: a 2 x 2 course's background price is about 60 % of
# its interactive one. moto's transactions copy the table, so a larger course takes minutes here.
COURSE = {
    "subject": "chemistry",
    "grade": "9",
    "modules": 4,
    "lessons_per_module": 6,
    "include": {"brain_bytes": False},
}


@pytest.fixture
def fake(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The worker, its planner and the batch collector talk to the fake, with Message Batches on."""
    # Answers as long as real ones (pregen.domain.spend's typical output per kind): the fake's own bodies are terse.
    with running_fake_anthropic(answer_tokens=output_tokens) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-fake")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("BATCH_BACKGROUND", "true")
        wiring.reset()
        yield server


@pytest.fixture
def courses() -> Any:
    from functions.courses import app

    return app


def _post(courses: Any, body: Any, *, role: str = "teacher") -> tuple[int, Any]:
    status, _, answer = call(courses, api_event("courses_create.json", sub="tess", role=role, body=body))
    return status, answer


def _get(courses: Any, course_id: str) -> Any:
    path = f"/v1/courses/{course_id}"
    event = api_event("courses_get.json", sub="tess", role="teacher", path=path, path_parameters={"course": course_id})
    status, _, body = call(courses, event)
    assert status == 200, body
    return body


def _collect() -> dict[str, Any]:
    result: dict[str, Any] = cron.lambda_handler(
        load_event("cron_collect_batches.json"), LambdaContext(function_name="cron", timeout_s=300)
    )
    return result


def _check(course: dict[str, Any]) -> dict[str, Any]:
    check: dict[str, Any] = next(c for c in course["validation"]["checks"] if c["name"] == "objectives_aligned")
    return check


def _forget_all_content(aws: Aws) -> None:
    """Empty the content table (parts, the cached outline, the library): the second course generates everything
    again instead of reusing the first one's parts."""
    table = aws.env["CONTENT_TABLE"]
    for page in aws.dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk"):
        for item in page["Items"]:
            aws.dynamodb.delete_item(TableName=table, Key=item)


def test_a_background_course_goes_through_message_batches_and_costs_at_most_55_percent_of_the_interactive_one(
    aws: Aws, fake: FakeAnthropic, courses: Any
) -> None:
    # Given the course built in the interactive lane (every part a direct call)
    status, accepted = _post(courses, {**COURSE, "lane": "interactive"})
    assert (status, accepted["lane"]) == (202, "interactive"), accepted
    run_worker(aws, "InteractiveQueue", max_batches=200)
    interactive = _get(courses, accepted["course_id"])
    assert interactive["status"] == "ready", interactive
    assert interactive["figures"]["batched"] == 0
    assert not fake.batches

    # When the same course is asked for in the background lane, with nothing cached (the provider's prompt cache
    # included: each lane starts cold)
    _forget_all_content(aws)
    fake.reset()
    status, accepted = _post(courses, {**COURSE, "lane": "background"})
    assert (status, accepted["lane"]) == (202, "background"), accepted
    run_worker(aws, "BackgroundQueue", max_batches=200)  # the plan (direct), then the parts into batches
    # Then the plan was the one direct call and every part went into a Message Batch, the first lessons first
    submitted = [r for b in fake.requests if b.path == "/v1/messages/batches" for r in b.body["requests"]]
    parts_total = accepted["parts_total"]
    assert len(submitted) == parts_total
    assert len(fake.requests) - len(fake.batches) == 1
    assert aws.depth("InteractiveQueue") == 0
    waiting = _get(courses, accepted["course_id"])
    assert (waiting["status"], waiting["parts"]["done"]) == ("generating", 0)

    # When the schedule collects the batches
    summary = _collect()
    assert summary["stored"] == parts_total
    assert summary["fell_back"] == 0
    # Then the course is ready with its alignment judgements pending, one per assessment, in the background lane
    waiting = _get(courses, accepted["course_id"])
    assert waiting["status"] == "ready", waiting
    assert _check(waiting)["detail"] == "judging: 4 of 4 assessments in a message batch"
    assert aws.depth("BackgroundQueue") == 4
    calls = len(fake.requests) - len(fake.batches)
    run_worker(aws, "BackgroundQueue")  # the judgements into a batch: no direct call
    assert len(fake.requests) - len(fake.batches) == calls
    judging = [r for r in fake.batches.values() if r["count"] == 4]
    assert len(judging) == 1
    summary = _collect()
    assert (summary["stored"], summary["fell_back"]) == (4, 0)
    background = _get(courses, accepted["course_id"])

    # Then the course is ready, its batched parts and judgements counted, its check stored as the direct path's
    assert background["status"] == "ready", background
    assert _check(background) == _check(interactive)
    assert background["validation"]["score"] == interactive["validation"]["score"]
    figures = background["figures"]
    assert figures["generated"] == interactive["figures"]["generated"] == parts_total + 1  # the parts and the plan
    assert figures["batched"] == parts_total + 4  # the parts and the 4 judgements
    assert figures["by_kind"]["judgement"]["generated"] == interactive["figures"]["by_kind"]["judgement"]["generated"]
    # ...and the whole course (generation and judgement, each lane's billed cost) cost at most 55 % of the
    # interactive one
    judged = [f["by_kind"]["judgement"]["cost_usd"] for f in (figures, interactive["figures"])]
    ratio = figures["cost_usd"] / interactive["figures"]["cost_usd"]
    print(f"background/interactive cost: {figures['cost_usd']:.6f} / {interactive['figures']['cost_usd']:.6f}")
    print(f"judgement {judged[0]:.6f} / {judged[1]:.6f} ({judged[0] / judged[1]:.3f})")
    print(f"ratio (the whole course) {ratio:.3f}")
    print(f"batch_saved_usd {figures['batch_saved_usd']:.6f}")
    assert ratio <= 0.55
    assert judged[0] == pytest.approx(judged[1] / 2, rel=0.05)  # the judgements at the batch price
    # ...the saving reported is the batched parts' and judgements' billed cost again (the batch price is half)
    batched_cost = sum(row["cost_usd"] for kind, row in figures["by_kind"].items() if kind != "plan")
    assert figures["batch_saved_usd"] == pytest.approx(batched_cost, rel=1e-6)
    # ...and the day's counters hold the saving by kind, as analytics reads them
    deps = worker_wiring.worker_deps()
    now = deps.clock.now()
    day = deps.counters.read_days([day_of(now)])[day_of(now)]
    saved = sum(v for k, v in day.items() if k.startswith(f"{Metric.BATCH_SAVED_USD.value}#"))
    assert saved == pytest.approx(figures["batch_saved_usd"], rel=1e-6)
    assert day.get(name(Metric.BATCH_SUCCEEDED, "lesson"), 0) == 24
    assert day.get(name(Metric.BATCH_SUCCEEDED, "judgement"), 0) == 4


def test_a_students_large_course_goes_to_the_background_lane_and_asking_interactive_for_it_is_refused(
    aws: Aws, courses: Any
) -> None:
    big = {"subject": "physics", "grade": "10", "modules": 12, "lessons_per_module": 8}  # 204 parts
    # A student asking the interactive lane for it: 403, nothing written
    status, body = _post(courses, {**big, "lane": "interactive"}, role="student")
    assert status == 403, body
    assert "background lane" in body["error"]["message"]
    assert aws.depth("InteractiveQueue") == aws.depth("BackgroundQueue") == 0
    # Not saying: the background lane (its plan waits on the background queue)
    status, body = _post(courses, big, role="student")
    assert (status, body["lane"]) == (202, "background"), body
    assert (aws.depth("BackgroundQueue"), aws.depth("InteractiveQueue")) == (1, 0)
    # A small course: interactive, as before; a teacher's large one too
    assert _post(courses, {**big, "modules": 1, "lessons_per_module": 2}, role="student")[1]["lane"] == "interactive"
    assert _post(courses, big, role="teacher")[1]["lane"] == "interactive"
    # A lane that is not one: 4xx JSON
    status, body = _post(courses, {**big, "lane": "express"}, role="teacher")
    assert status in {400, 422}, body


def test_a_batched_part_that_fails_in_its_batch_is_generated_directly_and_the_course_still_gets_ready(
    aws: Aws, fake: FakeAnthropic, courses: Any
) -> None:
    # Given a background course of 2 lessons and an assessment, planned (its parts waiting in the background lane)
    small = {
        "subject": "geology",
        "grade": "8",
        "modules": 1,
        "lessons_per_module": 2,
        "include": {"brain_bytes": False},
    }
    status, accepted = _post(courses, {**small, "lane": "background"})
    assert status == 202, accepted
    run_worker(aws, "BackgroundQueue", max_batches=1)  # the plan alone
    parts = worker_wiring.course_worker_deps().courses.read_parts(accepted["course_id"])
    lesson = next(p for p in parts if p.part_id == "m01-l02-lesson")
    # ...and the batch request of its second lesson will error
    fake.batch_fault(custom_id_for(lesson.job_id), "errored")

    # When the parts are batched and the batch collected
    run_worker(aws, "BackgroundQueue")
    summary = _collect()

    # Then the two others are done from the batch, the failed one is back in the lane as a direct part
    assert (summary["stored"], summary["fell_back"]) == (2, 1)
    assert _get(courses, accepted["course_id"])["parts"]["done"] == 2
    assert aws.depth("BackgroundQueue") == 1
    calls = len(fake.requests) - len(fake.batches)
    batches_before = len(fake.batches)
    run_worker(aws, "BackgroundQueue")
    # ...generated with a direct call (the one new batch is the assembled course's judgement, not the part), and
    # the course is ready with 2 parts batched
    assert len(fake.requests) - len(fake.batches) == calls + 1
    new = [b for i, b in enumerate(fake.batches.values()) if i >= batches_before]
    assert [[cid.endswith("-judgement") for cid, *_ in b["answered"]] for b in new] == [[True]]
    course = _get(courses, accepted["course_id"])
    assert course["status"] == "ready", course
    assert (course["figures"]["generated"], course["figures"]["batched"]) == (4, 2)
    job = worker_wiring.worker_deps().jobs.get_job(lesson.job_id)
    assert job is not None and job.status.value == "done"


def test_a_background_courses_failed_judgement_batch_result_falls_back_to_one_direct_judgement_and_the_cache_serves_the_next_course(  # noqa: E501
    aws: Aws, fake: FakeAnthropic, courses: Any
) -> None:
    # Given a background course of 2 lessons and an assessment whose parts came back from their batch
    small = {"subject": "botany", "grade": "7", "modules": 1, "lessons_per_module": 2}
    small["include"] = {"brain_bytes": False}
    status, accepted = _post(courses, {**small, "lane": "background"})
    assert status == 202, accepted
    course_id = accepted["course_id"]
    run_worker(aws, "BackgroundQueue")
    assert _collect()["stored"] == 3
    # ...ready, its alignment judgement pending (the check listed, not scored)
    waiting = _get(courses, course_id)
    assert waiting["status"] == "ready", waiting
    assert _check(waiting) == {
        "name": "objectives_aligned",
        "passed": False,
        "judged": False,
        "detail": "judging: 1 of 1 assessments in a message batch",
    }
    assert waiting["figures"]["by_kind"].get("judgement") is None
    # ...and the judgement's batch request will error
    fake.batch_fault(custom_id_for(f"{course_id}-m01-assessment-judgement"), "errored")

    # When the judgement is batched and the batch collected
    run_worker(aws, "BackgroundQueue")
    assert _collect()["fell_back"] == 1
    assert _check(_get(courses, course_id))["detail"].startswith("judging")
    calls = len(fake.requests) - len(fake.batches)
    batches = len(fake.batches)
    run_worker(aws, "BackgroundQueue")

    # Then one direct judgement (no new batch) stored the check as the direct path does, at the direct price
    assert len(fake.requests) - len(fake.batches) == calls + 1
    assert len(fake.batches) == batches
    judged = _get(courses, course_id)
    check = _check(judged)
    assert (check["passed"], check["score"], check.get("judged", True)) == (True, 1.0, True), check
    assert check["detail"].endswith("questions examine the objective they name")
    row = judged["figures"]["by_kind"]["judgement"]
    assert (row["generated"], row["reused"]) == (1, 0)
    assert row["cost_usd"] > 0
    assert judged["figures"]["batched"] == 3  # the parts; the judgement was a direct call
    assert judged["validation"]["score"] == 1.0

    # When the same course is asked for again in the background lane
    status, again = _post(courses, {**small, "lane": "background"})
    assert status == 202, again
    batches = len(fake.batches)
    run_worker(aws, "BackgroundQueue")
    second = _get(courses, again["course_id"])

    # Then its parts and its judgement come from the cache: no batch, no judgement, the check stored at once
    assert len(fake.batches) == batches
    assert second["status"] == "ready", second
    assert _check(second) == check
    assert second["figures"]["by_kind"]["judgement"]["reused"] == 1
    assert aws.depth("BackgroundQueue") == 0
