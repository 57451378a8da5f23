"""Erasure that stays erased (issue 28, item 6), on moto and the fake Anthropic server: after ``DELETE /v1/me`` has
run, a scan of every table finds nothing of the learner, even when a Message Batch result, a course plan and a late
worker write for them arrive afterwards; and the learner (or an admin) can read the erasure's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from functions.courses import app as courses
from pregen import wiring
from pregen.domain.models import Caller, ContentRequest, Priority
from pregen.services.content import enqueue_or_join
from pregen.wiring import serve as serve_wiring
from pregen.wiring import worker as worker_wiring
from tests.integration.conftest import api_event, call, run_worker
from tests.integration.test_batches import collect, fake, server  # noqa: F401 - the fake provider's fixtures
from tests.integration.test_learner_data import COURSE, LESSON, PERSONAL, erase, get, learner_route, traces

if TYPE_CHECKING:
    from pregen.domain.courses import CourseRequest
    from pregen.domain.models import Generation
    from pregen_fakes.fake_anthropic import FakeAnthropic
    from tests.integration.conftest import Aws


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERASE_SECOND_PASS_SECONDS", "0")  # the second pass at once: moto's queue holds a delay
    wiring.reset()


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> FakeAnthropic:
    """The fake Anthropic server, with Message Batches on (test_batches' ``fake`` fixture)."""
    found: FakeAnthropic = request.getfixturevalue("fake")
    return found


def status_of(sub: str, learner: str | None = None, role: str = "student") -> tuple[int, Any]:
    return learner_route("learners_erasure", sub, learner, role, "/erasure")


class ErasedWhilePlanning:
    """The course planner, with the learner's erasure (both passes) landing while the model writes the outline."""

    def __init__(self, planner: Any, aws: Aws) -> None:
        self.planner, self.aws = planner, aws

    def plan_course(self, request: CourseRequest, *, offered: Any = None, max_calls: int | None = None) -> Generation:
        assert erase("alice")[0] == 202
        for _ in range(2):
            run_worker(self.aws, "InteractiveQueue")  # the erasure's passes (this plan's own message is in flight)
        return self.planner.plan_course(request, offered=offered, max_calls=max_calls)  # type: ignore[no-any-return]


def test_nothing_of_an_erased_learner_comes_back_from_late_writes(
    aws: Aws, provider: FakeAnthropic, caplog: pytest.LogCaptureFixture
) -> None:
    assert status_of("alice") == (404, status_of("alice")[1])  # no erasure on record yet
    # Given alice's personal lesson sitting in a Message Batch the provider has not finished
    provider.hold_batches = True
    request = ContentRequest.model_validate({**PERSONAL, "topic": "My batch notes"})
    job, _ = enqueue_or_join(request, Caller(sub="alice"), Priority.WARMING, serve_wiring.serve_deps())
    assert job is not None
    run_worker(aws, "BackgroundQueue")
    assert len(provider.batches) == 1
    # ...a course she asked for, whose plan is written while her erasure runs
    status, _, course = call(courses, api_event("courses_create.json", sub="alice", body=COURSE))
    assert status == 202, course
    # ...and a shared lesson she asked for, in the same delivery, generated after her erasure (a late cost item)
    assert get(LESSON, "alice")[0] == 202
    deps = worker_wiring.course_worker_deps()
    deps.planner = ErasedWhilePlanning(deps.planner, aws)  # type: ignore[assignment]

    # When the worker takes the interactive lane: the course plan (the erasure lands inside it), the shared lesson
    # after it, and the batch's results are collected last
    for _ in range(3):
        run_worker(aws, "InteractiveQueue")
    provider.hold_batches = False
    summary = collect()

    # Then the batch stored nothing of hers, and no table holds anything that names her or her personal keys
    assert summary["batches_collected"] == 1 and summary["stored"] == 0
    assert traces(aws, "alice", {job.key, f"course#{course['course_id']}"}) == {}
    # ...because the late writes were refused by her tombstone, not merely deleted before they came
    refused = {getattr(r, "what", None) for r in caplog.records if r.getMessage().startswith("write refused")}
    assert refused == {"course plan", "cost item"}
    # And her erasure says so, to her and to an admin; not to another learner
    status, body = status_of("alice")
    assert status == 200, body
    assert (body["status"], body["passes_done"]) == ("done", 2)
    assert body["writes_refused_until"] > body["requested_at"]
    assert status_of("ops", "alice", role="admin")[1] == body
    assert status_of("bob", "alice")[0] == 403


def test_a_learner_who_comes_back_after_the_erasure_starts_afresh(aws: Aws) -> None:
    # Given alice erased (both passes), then back: her new requests are hers to keep
    assert erase("alice")[0] == 202
    status, body = status_of("alice")
    assert (status, body["status"], body["passes_done"]) == (200, "erasing", 0)
    for _ in range(2):
        run_worker(aws, "InteractiveQueue")
    assert status_of("alice")[1]["status"] == "done"
    assert get(PERSONAL, "alice")[0] == 202
    run_worker(aws, "InteractiveQueue")
    # Then her new personal content and her cost item are written
    assert get(PERSONAL, "alice")[0] == 200
    found = traces(aws, "alice", set())
    assert any(i["pk"]["S"] == "learner#alice" for i in found.get("CountersTable", []))


def test_a_dead_lettered_erasure_pass_is_sent_again_once_and_finishes(aws: Aws) -> None:
    from pregen.services.schedules import ScheduleEvent, run_schedule
    from pregen.wiring import cron as cron_wiring

    # Given alice's data, and her erasure's first pass dead-lettered (every delivery crashed)
    assert get(PERSONAL, "alice")[0] == 202
    run_worker(aws, "InteractiveQueue")
    assert erase("alice")[0] == 202
    lane, dlq = aws.queue_url("InteractiveQueue"), aws.queue_url("InteractiveDeadLetterQueue")
    (message,) = aws.sqs.receive_message(QueueUrl=lane)["Messages"]
    aws.sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"])
    aws.sqs.delete_message(QueueUrl=lane, ReceiptHandle=message["ReceiptHandle"])
    assert status_of("alice")[1]["passes_done"] == 0
    # When the dead_letters task runs, twice
    cron = cron_wiring.cron_deps()
    first = run_schedule(ScheduleEvent(task="dead_letters"), cron)
    second = run_schedule(ScheduleEvent(task="dead_letters"), cron)
    # Then the pass was sent again once (the letter stays for the operator), and the erasure finishes
    assert (first["seen"], first["settled"], second["settled"]) == (1, 1, 0)
    assert aws.depth("InteractiveDeadLetterQueue") == 1
    for _ in range(2):
        run_worker(aws, "InteractiveQueue")
    status, body = status_of("alice")
    assert (status, body["status"], body["passes_done"]) == (200, "done", 2)
    assert traces(aws, "alice", set()) == {}
    assert run_schedule(ScheduleEvent(task="dead_letters"), cron)["settled"] == 0  # done: left alone
