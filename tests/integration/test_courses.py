"""Whole courses on moto, through the handlers: accepted (202), planned once, fanned out as ordinary content requests
(cached lessons reused), assembled with course-level checks, failed parts retried, owner-only, limited before
anything is enqueued, and one course per Idempotency-Key."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

import pytest

from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.cursors import PATTERN as CURSOR_PATTERN
from pregen.domain.cursors import seal
from pregen.domain.errors import GenerationFailed
from pregen.domain.work_budget import WORKER_TIMEOUT_S
from pregen.services.courses import LISTING as COURSES_LISTING
from pregen.wiring import courses as courses_wiring
from pregen.wiring import worker as worker_wiring
from pregen.wiring.cursors import cursor_key
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.domain.courses import CourseRequest, LibraryLesson
    from pregen.domain.models import ContentRequest, Generation
    from tests.integration.conftest import Aws

SMALL = {"subject": "biology", "grade": "9", "modules": 2, "lessons_per_module": 2}


class CountingGenerator(OfflineGenerator):
    """The offline generator, counting its model calls; a topic in ``failing`` fails for good (a refusal)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []
        self.failing: set[str] = set()
        self.refuse_plans = False
        self.offered: list[list[LibraryLesson]] = []  # what each plan was offered from the library
        self.planner: AnthropicGenerator | None = None

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        self.calls.append(f"{request.kind.value}:{request.topic}")
        if request.topic in self.failing:
            raise GenerationFailed("the model refused this request", retryable=False)
        return super().generate(request, feedback, max_calls=max_calls)

    def plan_course(
        self, request: CourseRequest, *, offered: list[LibraryLesson] | None = None, max_calls: int | None = None
    ) -> Generation:
        self.calls.append(f"plan:{request.subject}")
        self.offered.append(list(offered or []))
        if self.refuse_plans:
            raise GenerationFailed("the model refused this course", retryable=False)
        if self.planner is not None:  # the fake provider, through the real adapter
            return self.planner.plan_course(request, offered=offered, max_calls=max_calls)
        return super().plan_course(request, offered=offered, max_calls=max_calls)


@pytest.fixture
def courses() -> Any:
    from functions.courses import app

    return app


@pytest.fixture
def model(aws: Aws) -> CountingGenerator:
    generator = CountingGenerator()
    worker_wiring.worker_deps().generator = generator  # before the course worker's deps take it as their planner
    return generator


def _post(
    courses: Any, body: Any, *, sub: str = "alice", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    event = api_event("courses_create.json", sub=sub, body=body)
    event["headers"].update(headers or {})
    return call(courses, event)


def _get(courses: Any, course_id: str, *, sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    path = f"/v1/courses/{course_id}"
    return call(courses, api_event("courses_get.json", sub=sub, path=path, path_parameters={"course": course_id}))


def _list(courses: Any, *, sub: str = "alice", query: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, body = call(courses, api_event("courses_list.json", sub=sub, query=query or {}))
    return status, body


def _retry(courses: Any, course_id: str, *, sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    path = f"/v1/courses/{course_id}/retry"
    return call(courses, api_event("courses_retry.json", sub=sub, path=path, path_parameters={"course": course_id}))


def _drain(aws: Aws) -> None:
    run_worker(aws, "InteractiveQueue", max_batches=500)


def _ready(courses: Any, aws: Aws, body: Any, *, sub: str = "alice") -> Any:
    _drain(aws)
    status, _, course = _get(courses, body["course_id"], sub=sub)
    assert status == 200, course
    assert course["status"] == "ready", course
    return course


def test_a_course_is_planned_fanned_out_validated_and_assembled(aws: Aws, courses: Any, model: Any) -> None:
    # Given a learner asks for a 2 x 2 course with everything included
    status, headers, body = _post(courses, SMALL)
    # Then it is accepted: 4 lessons, 4 brain bytes, 2 assessments
    assert status == 202, body
    assert body["parts_total"] == 10
    assert body["status"] == "planning"
    assert headers["location"] == f"/v1/courses/{body['course_id']}"
    assert headers["retry-after"] == "5"
    status, _, planning = _get(courses, body["course_id"])
    assert (status, planning["status"], planning["parts"]) == (200, "planning", {"total": 10, "done": 0, "failed": 0})
    # When the worker plans and generates every part
    course = _ready(courses, aws, body)
    # Then the course is assembled: modules → lessons with their content ids and bodies, brain bytes, assessment
    assert course["parts"] == {"total": 10, "done": 10, "failed": 0}
    assert [m["title"] for m in course["modules"]] == ["Biology unit 1", "Biology unit 2"]
    first = course["modules"][0]
    assert first["summary"]
    assert [lesson["title"] for lesson in first["lessons"]] == ["Biology 1.1", "Biology 1.2"]
    lesson = first["lessons"][0]
    assert lesson["content"]["content_id"].startswith(lesson["content"]["key"])
    assert lesson["content"]["content"]["title"]
    assert 3 <= len(lesson["brain_bytes"]["content"]["cards"]) <= 7
    assert len(first["assessment"]["content"]["questions"]) == 4  # one per objective (2 lessons x 2)
    # And every check passed, with minutes per module and in total
    checks = {c["name"]: c["passed"] for c in course["validation"]["checks"]}
    assert checks == {
        "objectives_taught": True,
        "every_module_assessed": True,
        "objectives_examined": True,
        "no_duplicate_questions": True,
        "objectives_aligned": True,
        "minutes_estimated": True,
    }
    assert course["validation"]["score"] == 1.0
    assert course["validation"]["estimated_minutes"] == sum(m["estimated_minutes"] for m in course["modules"])
    # And one plan call plus one call per part were made, all counted in the course's figures
    assert len(model.calls) == 11
    figures = course["figures"]
    assert (figures["generated"], figures["reused"]) == (11, 0)
    assert figures["by_kind"]["lesson"]["generated"] == 4
    assert figures["by_kind"]["assessment"]["generated"] == 2
    assert figures["by_model"]["offline"]["parts"] == 11


def test_the_same_course_again_costs_no_model_call_and_a_wider_one_reuses_the_shared_lessons(
    aws: Aws, courses: Any, model: Any
) -> None:
    # Given alice's course is ready
    _ready(courses, aws, _post(courses, SMALL)[2])
    made = len(model.calls)
    # When bob asks for the same course
    again = _ready(courses, aws, _post(courses, SMALL, sub="bob")[2], sub="bob")
    # Then nothing is generated: the outline and every part come from the cache
    assert len(model.calls) == made
    assert (again["figures"]["generated"], again["figures"]["reused"]) == (0, 11)
    assert all(m["lessons"][0]["content"]["reused"] for m in again["modules"])
    # When carol asks for a 4-module course on the same subject (its first two modules are the same lessons)
    wider = _ready(courses, aws, _post(courses, {**SMALL, "modules": 4}, sub="carol")[2], sub="carol")
    # Then only the new half is generated: a plan, 4 lessons, 4 brain bytes and 2 assessments
    new_calls = model.calls[made:]
    assert len(new_calls) == 11
    assert not any(call.endswith(("biology 1.1", "biology 1.2", "biology 2.1", "biology 2.2")) for call in new_calls)
    figures = wider["figures"]
    assert (figures["generated"], figures["reused"]) == (11, 10)
    assert figures["by_kind"]["lesson"] == {**figures["by_kind"]["lesson"], "generated": 4, "reused": 4}


def test_a_part_that_fails_for_good_fails_the_course_and_a_retry_regenerates_only_it(
    aws: Aws, courses: Any, model: Any
) -> None:
    # Given the model refuses one lesson's topic
    model.failing = {"biology 2.1"}  # topics are normalised (folded case)
    _, _, body = _post(courses, SMALL)
    _drain(aws)
    # Then the course is partial: it says which part failed and why, and every other part is served
    status, _, course = _get(courses, body["course_id"])
    assert (status, course["status"]) == (200, "partial")
    assert course["parts"] == {"total": 10, "done": 8, "failed": 2}  # the lesson and its brain bytes
    failed = course["modules"][1]["failed"]
    assert {f["part_id"] for f in failed} == {"m02-l01-lesson", "m02-l01-brain_bytes"}
    assert all("refused" in f["reason"] for f in failed)
    assert all("content" in lesson for lesson in course["modules"][0]["lessons"])
    broken, fine = course["modules"][1]["lessons"]
    assert "content" not in broken and "brain_bytes" not in broken
    assert fine["content"]["content"]["title"] and course["modules"][1]["assessment"]["content"]["questions"]
    assert "validation" not in course
    # When the model is fine again and the learner retries
    model.failing = set()
    made = len(model.calls)
    status, headers, retried = _retry(courses, body["course_id"])
    assert headers["location"] == f"/v1/courses/{body['course_id']}"
    assert status == 202, retried
    assert retried["status"] == "generating"
    ready = _ready(courses, aws, body)
    # Then only the two failed parts were generated again
    assert sorted(model.calls[made:]) == ["brain_bytes:biology 2.1", "lesson:biology 2.1"]
    assert ready["parts"] == {"total": 10, "done": 10, "failed": 0}
    # And a ready course cannot be retried
    status, _, refused = _retry(courses, body["course_id"])
    assert (status, refused["error"]["code"]) == (409, "conflict")


def test_another_learners_course_is_not_found_and_not_listed(aws: Aws, courses: Any, model: Any) -> None:
    _, _, body = _post(courses, SMALL, sub="alice")
    status, _, answer = _get(courses, body["course_id"], sub="bob")
    assert (status, answer["error"]["code"]) == (404, "not_found")
    assert _retry(courses, body["course_id"], sub="bob")[0] == 404
    assert _get(courses, "f" * 32)[0] == 404
    status, listed = _list(courses, sub="bob")
    assert (status, listed) == (200, {"items": [], "next_cursor": None, "courses": []})


def test_the_list_is_newest_first_a_page_at_a_time(aws: Aws, courses: Any, model: Any) -> None:
    ids = [_post(courses, {**SMALL, "subject": f"subject {n}", "modules": 1})[2]["course_id"] for n in range(3)]
    status, page = _list(courses, query={"limit": "2"})
    assert status == 200
    assert [c["course_id"] for c in page["items"]] == ids[::-1][:2]
    assert page["courses"] == page["items"]  # the deprecated alias, for one release
    assert page["next_cursor"]
    status, rest = _list(courses, query={"limit": "2", "cursor": page["next_cursor"]})
    assert [c["course_id"] for c in rest["items"]] == ids[:1]
    assert rest["next_cursor"] is None
    # (a listing that ends on a full page has a null cursor there)
    status, whole = _list(courses, query={"limit": "3"})
    assert ([c["course_id"] for c in whole["items"]], whole["next_cursor"]) == (ids[::-1], None)


def test_a_cursor_is_good_for_its_caller_and_its_listing_only(aws: Aws, courses: Any, model: Any) -> None:
    from functions.learners import app as learners

    # Given alice's first page of two courses, and its cursor
    for n in range(2):
        _post(courses, {**SMALL, "subject": f"subject {n}", "modules": 1})
    cursor = _list(courses, query={"limit": "1"})[1]["next_cursor"]
    assert re.fullmatch(CURSOR_PATTERN, cursor)
    # When one character of its payload or of its tag is changed, bob sends it, or it is given to /v1/me/content
    edits = [_changed(cursor, 0), _changed(cursor, len(cursor) - 1)]
    answers = [_list(courses, query={"cursor": edited}) for edited in edits]
    answers.append(_list(courses, sub="bob", query={"cursor": cursor}))
    status, _, body = call(learners, api_event("learners_list.json", query={"cursor": cursor}))
    answers.append((status, body))
    # Then each is a 400 that says to use a next_cursor, and the cursor itself still gives alice's next page
    assert [(status, body["error"]["code"]) for status, body in answers] == [(400, "invalid_request")] * 4
    assert all("next_cursor" in body["error"]["message"] for _, body in answers)
    status, page = _list(courses, query={"limit": "1", "cursor": cursor})
    assert (status, len(page["items"])) == (200, 1)


def test_a_signed_cursor_for_no_position_of_ours_is_a_400(aws: Aws, courses: Any) -> None:
    # Given a cursor signed with the deployment's key whose position is not one the index has
    forged = seal({"after": "x"}, key=cursor_key(), caller="alice", listing=COURSES_LISTING)
    # Then it is refused before the index is read
    assert _list(courses, query={"cursor": forged})[0] == 400


def _changed(cursor: str, at: int) -> str:
    return cursor[:at] + ("B" if cursor[at] == "A" else "A") + cursor[at + 1 :]


@pytest.mark.parametrize(
    "cursor",
    [
        "0",
        "notbase64!",
        base64.urlsafe_b64encode(b"[]").decode().rstrip("="),
        base64.urlsafe_b64encode(json.dumps({"after": "x"}).encode()).decode().rstrip("="),
        "Zm9v",
    ],
)
def test_a_bad_cursor_is_a_400(aws: Aws, courses: Any, cursor: str) -> None:
    status, body = _list(courses, query={"cursor": cursor})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SMALL, "modules": 13}, "modules"),
        ({**SMALL, "modules": 0}, "modules"),
        ({**SMALL, "lessons_per_module": 9}, "lessons_per_module"),
        ({**SMALL, "modules": "4"}, "modules"),
        ({**SMALL, "modules": True}, "modules"),
        ({**SMALL, "modules": 2.5}, "modules"),
        ({**SMALL, "include": {"assessments": "yes"}}, "assessments"),
        ({**SMALL, "include": {"videos": True}}, "videos"),
        ({**SMALL, "subject": "   "}, "subject"),
        ({**SMALL, "colour": "red"}, "colour"),
        ({"subject": "biology"}, "grade"),
        ({**SMALL, "learning_style": "telepathic"}, "learning_style"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(aws: Aws, courses: Any, body: dict[str, Any], field: str) -> None:
    status, _, answer = _post(courses, body)
    assert status == 400, answer
    assert field in json.dumps(answer["error"])
    assert aws.depth("InteractiveQueue") == 0


def test_a_whole_number_written_as_a_float_is_an_integer(aws: Aws, courses: Any) -> None:
    status, _, body = _post(courses, {**SMALL, "modules": 3.0})
    assert (status, body["parts_total"]) == (202, 3 * 2 * 2 + 3)


def test_a_course_past_the_allowance_is_a_429_before_anything_is_enqueued(aws: Aws, courses: Any) -> None:
    from pregen.domain.courses import CourseRequest
    from pregen.domain.limits import RateLimits
    from pregen.services.limits import GenerationLimiter

    # Given a student's minute allowance of one and a half 6-module courses (a course is charged its plan and
    # every part it can have)
    deps = courses_wiring.course_deps()
    assert deps.limiter is not None
    one = deps.limiter.estimator.course(CourseRequest.model_validate({**SMALL, "modules": 6}))
    assert one > deps.limiter.estimator.course(CourseRequest.model_validate({**SMALL, "modules": 3}))
    limits = RateLimits.model_validate({"student": {"minute": 1.5 * one / 1e6}})
    deps.limiter = GenerationLimiter(counter=deps.limiter.counter, limits=limits, estimator=deps.limiter.estimator)
    status, _, first = _post(courses, {**SMALL, "modules": 6})
    assert status == 202, first
    depth = aws.depth("InteractiveQueue")
    # When a second 6-module course would pass it
    status, headers, refused = _post(courses, {**SMALL, "modules": 6, "subject": "chemistry"})
    # Then it is refused with Retry-After, and nothing was written or enqueued
    assert status == 429, refused
    assert int(headers["retry-after"]) >= 1
    assert aws.depth("InteractiveQueue") == depth
    assert [c["course_id"] for c in _list(courses)[1]["items"]] == [first["course_id"]]
    # And a course larger than the whole minute allows is a 422 that says so (waiting would never help)
    status, headers, refused = _post(courses, {**SMALL, "modules": 12, "lessons_per_module": 8})
    assert (status, refused["error"]["code"]) == (422, "over_allowance"), refused
    assert "retry-after" not in headers


def test_an_idempotency_key_returns_the_same_course(aws: Aws, courses: Any, model: Any) -> None:
    key = {"idempotency-key": "retry-me-42"}
    status, _, first = _post(courses, SMALL, headers=key)
    assert status == 202, first
    status, _, again = _post(courses, SMALL, headers=key)
    assert (status, again["course_id"]) == (202, first["course_id"])
    assert aws.depth("InteractiveQueue") == 1  # one plan message
    # The same key with another course is a conflict; another learner's same key is their own
    status, _, clash = _post(courses, {**SMALL, "modules": 3}, headers=key)
    assert (status, clash["error"]["code"]) == (409, "conflict")
    status, _, bobs = _post(courses, SMALL, headers=key, sub="bob")
    assert status == 202
    assert bobs["course_id"] != first["course_id"]
    # A malformed key is a 400
    assert _post(courses, SMALL, headers={"idempotency-key": "x" * 129})[0] == 400


def test_a_course_planned_again_reads_its_outline_from_the_cache(aws: Aws, courses: Any, model: Any) -> None:
    _post(courses, SMALL)
    _post(courses, SMALL, sub="bob")
    _drain(aws)
    assert [c for c in model.calls if c.startswith("plan:")] == ["plan:biology"]


def test_analytics_count_courses_started_ready_failed_and_their_time_to_ready(
    aws: Aws, courses: Any, model: Any
) -> None:
    from functions.analytics import app as analytics_app
    from tests.integration.conftest import freeze

    # Given the clock the test controls, shared by the courses function
    clock = freeze(dt.datetime(2027, 3, 10, 9, 0, tzinfo=dt.UTC).timestamp())
    courses_wiring.course_deps().clock = clock
    # And a course ready 40 s after it was asked for, one that failed, one still planning
    _post(courses, SMALL)
    clock.advance(40)
    _drain(aws)
    model.failing = {"chemistry 1.1"}
    _post(courses, {**SMALL, "subject": "chemistry"})
    _drain(aws)
    _post(courses, {**SMALL, "subject": "physics"})
    # When an admin asks for the analytics
    status, _, figures = call(analytics_app, api_event("analytics.json", sub="ops", role="admin", query={}))
    # Then the courses' own section says so
    assert status == 200
    assert figures["courses"] == {
        "started": 3,
        "ready": 1,
        "failed": 1,
        "time_to_ready_ms": {"p50": 45_000, "p95": 45_000, "mean": 40_000},
        "timeToReadyMs": {"p50": 45_000, "p95": 45_000, "mean": 40_000},  # its deprecated alias
    }
    # And the outlines planned count as generated content of their own kind
    assert figures["generatedByKind"]["course_outline"] == 2


@pytest.mark.parametrize("sample", ["worker_course_plan.json", "worker_course_part.json"])
def test_the_sample_worker_events_of_a_course_that_does_not_exist_are_acknowledged(aws: Aws, sample: str) -> None:
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker
    from tests.conftest import load_event

    result = worker.lambda_handler(load_event(sample), LambdaContext(function_name="w", timeout_s=WORKER_TIMEOUT_S))
    assert result == {"batchItemFailures": []}
    assert aws.depth("InteractiveQueue") == 0


def test_a_plan_that_fails_for_good_fails_the_course_with_its_reason_and_a_retry_plans_again(
    aws: Aws, courses: Any, model: Any
) -> None:
    model.refuse_plans = True
    _, _, body = _post(courses, SMALL)
    _drain(aws)
    status, _, course = _get(courses, body["course_id"])
    assert (status, course["status"]) == (200, "failed")
    assert course["reason"].startswith("plan: ") and "refused" in course["reason"]
    model.refuse_plans = False
    status, _, retried = _retry(courses, body["course_id"])
    assert (status, retried["status"]) == (202, "planning")
    assert _ready(courses, aws, body)["parts"] == {"total": 10, "done": 10, "failed": 0}


@pytest.fixture
def no_wait(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts waiting on another job's key come back at once (the worker's deps are built after this)."""
    from pregen import wiring

    monkeypatch.setenv("COURSE_PART_WAIT_SECONDS", "0")
    wiring.reset()


def _work_concurrently(aws: Aws, done: Any, *, workers: int = 4, timeout_s: float = 60) -> None:
    """Deliver the interactive lane to several worker invocations at once, one message each, until ``done()``."""
    import threading
    import time

    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker

    url, arn = aws.queue_url("InteractiveQueue"), aws.resources.queue_arns["InteractiveQueue"]
    deadline = time.monotonic() + timeout_s
    # ``done`` calls the courses handler: one call at a time, as a Lambda environment takes one event at a time
    # (Powertools' resolver keeps the request it is answering on itself; threads sharing it would mix requests).
    asking = threading.Lock()

    def finished() -> bool:
        with asking:
            return bool(done())

    def work() -> None:
        sqs = aws.sqs
        while time.monotonic() < deadline and not finished():
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"], WaitTimeSeconds=0
            ).get("Messages", [])
            for m in messages:
                result = worker.lambda_handler(
                    {"Records": [to_lambda_record(m, arn)]},
                    LambdaContext(function_name="w", timeout_s=WORKER_TIMEOUT_S),
                )
                if result["batchItemFailures"]:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_courses_sharing_lessons_generated_at_once_generate_each_shared_key_once(
    aws: Aws, atomic_requests: None, no_wait: None, courses: Any, model: Any
) -> None:
    # Given two learners' courses whose lessons and assessments are the same content keys (one without brain bytes)
    first = _post(courses, SMALL)[2]["course_id"]
    second = _post(courses, {**SMALL, "include": {"brain_bytes": False}}, sub="bob")[2]["course_id"]

    def both_ready() -> bool:
        return all(_get(courses, c, sub=s)[2]["status"] == "ready" for c, s in ((first, "alice"), (second, "bob")))

    # When four worker invocations work the lane at the same time
    _work_concurrently(aws, both_ready)
    # Then both are ready, and every shared key was generated once: by one course, reused by the other
    assert both_ready()
    generated = [c for c in model.calls if not c.startswith("plan:")]
    assert sorted(generated) == sorted(set(generated))
    assert len(generated) == 4 + 4 + 2  # lessons, brain bytes (first course only), assessments
    a, b = _get(courses, first)[2]["figures"], _get(courses, second, sub="bob")[2]["figures"]
    lessons = a["by_kind"]["lesson"], b["by_kind"]["lesson"]
    assert sum(x["generated"] for x in lessons) == 4
    assert sum(x["reused"] for x in lessons) == 4


def _deliver_one(aws: Aws) -> str:
    """The next message on the interactive lane, delivered alone; its part id (or its type)."""
    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker

    url, arn = aws.queue_url("InteractiveQueue"), aws.resources.queue_arns["InteractiveQueue"]
    (message,) = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"])[
        "Messages"
    ]
    result = worker.lambda_handler(
        {"Records": [to_lambda_record(message, arn)]}, LambdaContext(function_name="w", timeout_s=WORKER_TIMEOUT_S)
    )
    assert result == {"batchItemFailures": []}
    aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    body = json.loads(message["Body"])
    return str(body.get("part_id") or body["type"])


def test_a_course_is_readable_as_it_arrives_its_first_three_lessons_first(aws: Aws, courses: Any, model: Any) -> None:
    # Given a 2 x 2 course, planned
    _, _, body = _post(courses, SMALL)
    assert _deliver_one(aws) == "course_plan"
    # When the worker takes the next three messages
    delivered = [_deliver_one(aws) for _ in range(3)]
    # Then they were the course's first three lessons (module 1's, then module 2's first), ahead of everything else
    assert delivered == ["m01-l01-lesson", "m01-l02-lesson", "m02-l01-lesson"]
    # And the course, still generating, already serves them with their bodies; the rest is not there yet
    status, _, course = _get(courses, body["course_id"])
    assert (status, course["status"], course["parts"]["done"]) == (200, "generating", 3)
    lessons = [lesson for module in course["modules"] for lesson in module["lessons"]]
    assert ["content" in lesson for lesson in lessons] == [True, True, True, False]
    assert lessons[0]["content"]["content"]["objectives"]
    assert not any("brain_bytes" in lesson for lesson in lessons)
    assert not any("assessment" in module for module in course["modules"])
    # And the rest follows in course order: module 1's brain bytes and assessment before module 2's remainder
    rest = [_deliver_one(aws) for _ in range(7)]
    assert rest == [
        "m01-l01-brain_bytes",
        "m01-l02-brain_bytes",
        "m01-assessment",
        "m02-l01-brain_bytes",
        "m02-l02-lesson",
        "m02-l02-brain_bytes",
        "m02-assessment",
    ]
    assert _get(courses, body["course_id"])[2]["status"] == "ready"


def test_every_part_is_written_from_its_objectives_in_the_courses_language(aws: Aws, courses: Any, model: Any) -> None:
    # Given a teacher's course in Spanish
    course = _ready(courses, aws, _post(courses, {**SMALL, "language": "Spanish"})[2])
    # Then every lesson lists the objectives the outline gave it, and its brain bytes and assessment follow them
    for module in course["modules"]:
        objectives = [o.casefold() for lesson in module["lessons"] for o in lesson["objectives"]]
        for lesson in module["lessons"]:
            assert [o.casefold() for o in lesson["content"]["content"]["objectives"]] == [
                o.casefold() for o in lesson["objectives"]
            ]
        questions = module["assessment"]["content"]["questions"]
        assert {q["objective"] for q in questions} == set(objectives)
    # And every part records the course's language, which the course checks
    parts = [m["assessment"] for m in course["modules"]] + [
        lesson[name] for m in course["modules"] for lesson in m["lessons"] for name in ("content", "brain_bytes")
    ]
    assert {p["content"]["language"] for p in parts} == {"spanish"}
    checks = {c["name"]: c for c in course["validation"]["checks"]}
    assert checks["language"] == {"name": "language", "passed": True, "detail": "every part in spanish"}
    assert checks["objectives_taught"]["passed"] and checks["objectives_examined"]["passed"]
    # And the same course in English shares no part with it (another language is other content)
    english = _ready(courses, aws, _post(courses, SMALL, sub="bob")[2], sub="bob")
    assert english["figures"]["reused"] == 0


OVERLAPPING = [
    {"subject": "biology", "grade": "9", "modules": 2, "lessons_per_module": 3},
    {"subject": "biology", "grade": "9", "modules": 3, "lessons_per_module": 2, "title": "Biology, shorter units"},
]


def _plan_with_the_schema_follower(model: CountingGenerator, fake_url: str) -> None:
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.domain.pricing import default_prices

    model.planner = AnthropicGenerator(
        api_key="sk-test-fake",
        model_for=lambda kind: "claude-haiku-5-5",
        prices=default_prices(),
        base_url=fake_url,
        timeout_s=10.0,
    )


def _lessons(course: Any) -> list[Any]:
    return [lesson for module in course["modules"] for lesson in module["lessons"]]


@pytest.mark.parametrize("catalogue", [True, False])
def test_a_second_course_on_an_overlapping_topic_reuses_library_lessons_only_by_choosing_them(
    aws: Aws, courses: Any, model: CountingGenerator, catalogue: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pregen.adapters.library import DynamoLibraryStore
    from pregen_fakes.fake_anthropic import running_fake_anthropic

    if not catalogue:  # the same planner, offered nothing: what sharing by titles alone gives
        monkeypatch.setattr(DynamoLibraryStore, "lesson_catalogue", lambda self, scope, now, limit: [])
    with running_fake_anthropic(follow="schema") as fake:
        # Given a planner that follows only the schema, and alice's 2 x 3 biology course ready
        _plan_with_the_schema_follower(model, fake.base_url)
        first = _ready(courses, aws, _post(courses, OVERLAPPING[0])[2])
        # When bob asks for a 3 x 2 course on the same subject (the planner words its lessons differently)
        second = _ready(courses, aws, _post(courses, OVERLAPPING[1], sub="bob")[2], sub="bob")
    assert first["library"] == {"offered": 0, "chosen": 0, "ignored": 0}
    figures = second["figures"]
    if not catalogue:
        # Then, offered nothing, it shares no lesson with the first: reuse by titles does not happen
        assert (figures["reused"], figures["reused_by_design"]) == (0, 0)
        assert not any("from_library" in lesson for lesson in _lessons(second))
        return
    # Then it was offered the first course's 6 lessons and chose 4 of them (the ideas of its 4 places in common)
    assert second["library"] == {"offered": 6, "chosen": 4, "ignored": 0}
    first_keys = {lesson["content"]["key"] for lesson in _lessons(first)}
    chosen = [lesson for lesson in _lessons(second) if "from_library" in lesson]
    assert len(chosen) == 4
    for lesson in chosen:
        # each a library lesson served as it is: its key, title and objectives, reused (not generated)
        assert lesson["from_library"] == lesson["content"]["key"] in first_keys
        assert lesson["content"]["reused"] and lesson["brain_bytes"]["reused"]
        assert lesson["objectives"] == lesson["content"]["content"]["objectives"]
    # And every part it reused, it reused by design: 4 lessons and their 4 brain bytes of its 15 parts
    assert figures["reused"] == figures["reused_by_design"] == 8
    assert second["parts"]["total"] == 15
    # And the course checks still hold: the reused lessons' objectives are the ones its assessments examine
    assert second["validation"]["score"] == 1.0


def test_a_reuse_key_that_was_not_offered_plans_a_new_lesson(aws: Aws, courses: Any, model: CountingGenerator) -> None:
    # Given alice's course is ready, and a planner that names a key it was not offered for every lesson
    _ready(courses, aws, _post(courses, SMALL)[2])
    planned = OfflineGenerator.plan_course

    def naming_a_made_up_key(self: Any, request: Any, **options: Any) -> Any:
        generation = planned(self, request, **options)
        for module in generation.body["modules"]:
            for lesson in module["lessons"]:
                lesson["reuse_key"] = "v1-lesson-" + "0" * 64
        return generation

    model.plan_course = naming_a_made_up_key.__get__(model)  # type: ignore[method-assign]
    # When bob asks for a 2 x 2 course under another title (another outline, same subject and grade)
    course = _ready(courses, aws, _post(courses, {**SMALL, "title": "Biology again"}, sub="bob")[2], sub="bob")
    # Then every key is ignored and every lesson is planned from its own title (here the offline's, so shared)
    assert course["library"]["chosen"] == 0
    assert course["library"]["ignored"] == 4
    assert not any("from_library" in lesson for lesson in _lessons(course))
    assert course["figures"]["reused_by_design"] == 0


def test_the_catalogue_lists_shared_lessons_of_a_scope_only_while_they_live(aws: Aws) -> None:
    from pregen.adapters.library import DynamoLibraryStore
    from pregen.domain.courses import catalogue_scope
    from pregen.domain.library import Version, VersionStatus
    from pregen.domain.records import StoredContent

    store = DynamoLibraryStore(aws.env["CONTENT_TABLE"], aws.dynamodb)
    lesson = {"kind": "lesson", "subject": "biology", "grade": "9", "topic": "cells", "objectives": ["Name a cell"]}

    def add(key: str, owner: str | None, expires_at: float, request: dict[str, Any]) -> None:
        content = StoredContent(key, "lesson", {"title": "x"}, {"version_id": f"{key}-v"}, owner, 1000.0, expires_at)
        version = Version(
            f"{key}-v", key, "lesson", VersionStatus.ACTIVE, 1000.0, expires_at, request, owner, is_best=True
        )
        store.add_version(content, version)

    # Given a shared lesson, a personal one, one that has expired, a Spanish one and a question set of the scope
    add("v1-lesson-shared", None, 5000.0, lesson)
    add("v1-lesson-personal", "alice", 5000.0, lesson)
    add("v1-lesson-expired", None, 1500.0, lesson)
    add("v1-lesson-spanish", None, 5000.0, {**lesson, "language": "spanish"})
    add("v1-question_set-x", None, 5000.0, {**lesson, "kind": "question_set"})
    # When a planner's catalogue of biology, grade 9 (no language) is read at t = 2000
    offered = store.lesson_catalogue(catalogue_scope("biology", "9", None), 2000.0, limit=30)
    # Then only the live shared lesson is offered, with its title, objectives and request
    assert [(o.key, o.title, o.objectives, o.request["topic"]) for o in offered] == [
        ("v1-lesson-shared", "cells", ["Name a cell"], "cells")
    ]
    assert [o.key for o in store.lesson_catalogue(catalogue_scope("biology", "9", "Spanish"), 2000.0, 30)] == [
        "v1-lesson-spanish"
    ]


def test_the_catalogue_backfill_lists_lessons_served_before_the_catalogue_existed_and_resumes(aws: Aws) -> None:
    from pregen.adapters.library import DynamoLibraryStore
    from pregen.adapters.runs import DynamoRunState
    from pregen.domain.clock import FrozenClock
    from pregen.domain.courses import catalogue_scope
    from pregen.domain.library import Version, VersionStatus
    from pregen.domain.records import StoredContent
    from pregen.services.schedules import CronDeps, catalogue_backfill

    store = DynamoLibraryStore(aws.env["CONTENT_TABLE"], aws.dynamodb)
    lesson = {"kind": "lesson", "subject": "biology", "grade": "9", "objectives": ["Name a cell"]}
    scope = catalogue_scope("biology", "9", None)

    def add(key: str, owner: str | None, expires_at: float, *, best: bool = True) -> None:
        request = {**lesson, "topic": key.rsplit("-", 1)[-1]}
        content = StoredContent(key, "lesson", {"title": "x"}, {"version_id": f"{key}-v"}, owner, 1000.0, expires_at)
        version = Version(
            f"{key}-v", key, "lesson", VersionStatus.ACTIVE, 1000.0, expires_at, request, owner, is_best=best
        )
        store.add_version(content, version)

    # Given four served shared lessons, a personal one, an expired one and a version that is not served, written
    # before the catalogue existed (their entries deleted)
    for topic in ("cells", "genes", "enzymes", "tissues"):
        add(f"v1-lesson-{topic}", None, 5000.0)
    add("v1-lesson-mine", "alice", 5000.0)
    add("v1-lesson-old", None, 1500.0)
    add("v1-lesson-unserved", None, 5000.0, best=False)
    for entry in aws.dynamodb.query(
        TableName=aws.env["CONTENT_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": scope}},
    )["Items"]:
        aws.dynamodb.delete_item(TableName=aws.env["CONTENT_TABLE"], Key={"pk": entry["pk"], "sk": entry["sk"]})
    assert store.lesson_catalogue(scope, 2000.0, 30) == []
    runs = DynamoRunState(aws.env["EXAMS_TABLE"], aws.dynamodb)
    deps = CronDeps(queue=None, queue_urls={}, clock=FrozenClock(2000.0), runs=runs, library=store)  # type: ignore[arg-type]

    # When the operator's backfill runs one page of three items at a time
    first = catalogue_backfill(deps, pages=1, page=3)
    # Then it stops with the scan unfinished, and the next run goes on from where it saved
    assert first["finished"] is False and first["read"] == 3
    runs_needed = 1
    while not catalogue_backfill(deps, pages=1, page=3)["finished"]:
        runs_needed += 1
        assert runs_needed < 40, "the backfill never finished"
    # Then exactly the live served shared lessons are offered, each once
    offered = sorted(o.key for o in store.lesson_catalogue(scope, 2000.0, 30))
    assert offered == [f"v1-lesson-{t}" for t in ("cells", "enzymes", "genes", "tissues")]
    # When it runs again after the end, it starts over and writes the same entries (idempotent)
    again = catalogue_backfill(deps, pages=100, page=3)
    assert again["finished"] is True and again["written"] == 4
    assert sorted(o.key for o in store.lesson_catalogue(scope, 2000.0, 30)) == offered


def test_a_parts_generation_reads_its_job_once_its_lease_takes_no_read(
    aws: Aws, courses: Any, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a course whose parts are generated on the worker's own path
    jobs = worker_wiring.worker_deps().jobs
    reads: list[str] = []
    real_get_job = jobs.get_job

    def counted(job_id: str) -> Any:
        reads.append(job_id)
        return real_get_job(job_id)

    monkeypatch.setattr(jobs, "get_job", counted)
    status, _, body = _post(courses, SMALL)
    assert status == 202, body
    # When every part is generated
    course = _ready(courses, aws, body)
    # Then each part's job was read once (to find whether it exists), never again by the generation's lease: its
    # message carries when the job was created, and the lease's write checks the job as it was written
    assert course["parts"]["done"] == 10
    assert len(set(reads)) == 10, reads  # one job per generated part
    assert all(reads.count(job_id) == 1 for job_id in reads), reads
