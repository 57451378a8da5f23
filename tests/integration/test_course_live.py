"""Live parts of courses, through the handlers on moto: a course serves each part's served library version (so a
lesson regenerated and approved reaches it), unless its teacher pinned one; pins are the owner's (teacher or
admin), a read stays a handful of requests, and bad pins are clear 4xx answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pregen import wiring
from pregen.wiring import courses as courses_wiring
from pregen.wiring import worker as worker_wiring
from tests.integration.conftest import api_event, call, run_worker
from tests.integration.test_course_shares import _read, _share
from tests.integration.test_courses import SMALL, CountingGenerator, _post
from tests.integration.test_library import listed, regenerate, vote

if TYPE_CHECKING:
    from tests.integration.conftest import Aws

LESSON = "m01-l01-lesson"


@pytest.fixture
def courses(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The course function; two up votes approve a version (so a test can approve a regenerated lesson)."""
    monkeypatch.setenv("APPROVAL_MIN_NET_VOTES", "2")
    monkeypatch.setenv("APPROVAL_MIN_RATIO", "1.0")
    wiring.reset()
    from functions.courses import app

    worker_wiring.worker_deps().generator = CountingGenerator()
    return app


def _pin(
    courses: Any, course_id: str, part: str, version: str | None, *, sub: str = "tess", role: str = "teacher"
) -> tuple[int, Any]:
    path = f"/v1/courses/{course_id}/parts/{part}/pin"
    parameters = {"course": course_id, "part": part}
    if version is None:
        event = api_event("courses_unpin.json", sub=sub, role=role, path=path, path_parameters=parameters)
    else:
        body = {"version_id": version}
        event = api_event("courses_pin.json", sub=sub, role=role, body=body, path=path, path_parameters=parameters)
    status, _, answer = call(courses, event)
    return status, answer


def _ready_course(aws: Aws, courses: Any, sub: str) -> str:
    status, _, accepted = _post(courses, SMALL, sub=sub)
    assert status == 202, accepted
    run_worker(aws, "InteractiveQueue", max_batches=500)
    assert _read(courses, accepted["course_id"], sub=sub, role="teacher")[1]["status"] == "ready"
    return str(accepted["course_id"])


def _lesson(course: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = course["modules"][0]["lessons"][0]["content"]
    return content


def _view(courses: Any, course_id: str, sub: str) -> dict[str, Any]:
    status, course = _read(courses, course_id, sub=sub, role="teacher")
    assert status == 200, course
    return course


def test_a_regenerated_and_approved_lesson_reaches_the_course_and_a_pinned_one_does_not(aws: Aws, courses: Any) -> None:
    # Given two teachers' courses on the same subject (the second reuses the first's lessons), both serving the
    # lesson's first version from the library
    live_course = _ready_course(aws, courses, "tess")
    pinned_course = _ready_course(aws, courses, "tom")
    first = _lesson(_view(courses, live_course, "tess"))
    assert (first["served_from"], first["pinned"]) == ("library", False)
    first_id = first["content_id"]
    assert _lesson(_view(courses, pinned_course, "tom"))["content_id"] == first_id
    # And the second teacher pins that version
    status, pin = _pin(courses, pinned_course, LESSON, first_id, sub="tom")
    assert (status, pin) == (200, {"course_id": pinned_course, "part_id": LESSON, "pinned": first_id})
    # When a teacher regenerates the lesson and the new version is approved (two up votes)
    assert regenerate(first_id, "Use a plant example")[0] == 202
    run_worker(aws, "InteractiveQueue", max_batches=50)
    [second_id] = [cid for cid in listed(first_id) if cid != first_id]
    vote(second_id, "up", "a")
    assert vote(second_id, "up", "b")[1]["served_version"] == second_id
    # Then the unpinned course serves the new version, its body included
    live = _lesson(_view(courses, live_course, "tess"))
    assert (live["content_id"], live["pinned"], live["served_from"]) == (second_id, False, "library")
    assert live["content"] != first["content"]
    # And the pinned course still serves the first, marked pinned
    kept = _lesson(_view(courses, pinned_course, "tom"))
    assert (kept["content_id"], kept["pinned"], kept["content"]) == (first_id, True, first["content"])
    # When the pin is removed, the pinned course follows the library again; removing it twice is a 404
    assert _pin(courses, pinned_course, LESSON, None, sub="tom") == (
        200,
        {"course_id": pinned_course, "part_id": LESSON, "pinned": None},
    )
    assert _lesson(_view(courses, pinned_course, "tom"))["content_id"] == second_id
    assert _pin(courses, pinned_course, LESSON, None, sub="tom")[0] == 404


def test_an_owners_course_read_is_four_requests_and_a_part_gone_from_the_library_serves_the_courses_copy(
    aws: Aws, courses: Any
) -> None:
    # Given a ready course
    course_id = _ready_course(aws, courses, "tess")
    before = _view(courses, course_id, "tess")
    client = courses_wiring.course_deps().courses.client  # the library store shares it
    operations: list[str] = []

    def counted(**kwargs: Any) -> None:
        operations.append(kwargs["event_name"].rsplit(".", 1)[-1])

    client.meta.events.register("before-call.dynamodb", counted)
    try:
        # When it is read
        _view(courses, course_id, "tess")
        # Then that is GetItem(course), a Query of its parts (no bodies), one BatchGetItem of their live versions
        # and the Query of its shares (the owner's view)
        assert sorted(operations) == sorted(["GetItem", "Query", "BatchGetItem", "Query"]), operations
        # When the lesson's content is gone from the library (expired and deleted)
        key = _lesson(before)["key"]
        aws.dynamodb.delete_item(TableName=aws.env["CONTENT_TABLE"], Key={"pk": {"S": key}, "sk": {"S": "content"}})
        operations.clear()
        after = _lesson(_view(courses, course_id, "tess"))
    finally:
        client.meta.events.unregister("before-call.dynamodb", counted)
    # Then the course serves the copy it kept, saying so, with one more Query (its parts' bodies)
    assert (after["served_from"], after["content"]) == ("course_copy", _lesson(before)["content"])
    assert operations.count("Query") == 3, operations


# (part, version, role) → status
BAD_PINS = [
    ((LESSON, "not-a-version", "teacher"), 400),
    (("m01-l01-summary", "ours", "teacher"), 400),  # not a part id
    (("m09-l09-lesson", "ours", "teacher"), 404),  # no such part
    ((LESSON, "other", "teacher"), 404),  # a version of other content (the module's assessment)
    ((LESSON, "unknown", "teacher"), 404),  # the part's key, no such version
    ((LESSON, "ours", "student"), 403),
]


def test_a_bad_pin_is_a_4xx_json_error_and_pins_nothing(aws: Aws, courses: Any) -> None:
    # Given a ready course, its lesson's version and another part's
    course_id = _ready_course(aws, courses, "tess")
    course = _view(courses, course_id, "tess")
    ours = _lesson(course)["content_id"]
    versions = {
        "ours": ours,
        "other": course["modules"][0]["assessment"]["content_id"],
        "unknown": ours[:-12] + "0" * 12,
        "not-a-version": "not-a-version",
    }
    for (part, version, role), status in BAD_PINS:
        # When it is pinned badly (or by a student)
        answer_status, answer = _pin(courses, course_id, part, versions[version], role=role)
        # Then the answer is the 4xx, as JSON
        assert (answer_status, bool(answer["error"]["code"])) == (status, True), (part, version, answer)
    # And nothing is pinned
    assert _lesson(_view(courses, course_id, "tess"))["pinned"] is False


def test_only_the_owner_pins_a_member_is_403_and_a_stranger_404(aws: Aws, courses: Any) -> None:
    # Given a teacher's course shared with class 7b
    course_id = _ready_course(aws, courses, "tess")
    version = _lesson(_view(courses, course_id, "tess"))["content_id"]
    assert _share(courses, course_id, {"class_id": "7b"})[0] == 201
    # Then a teacher in 7b may read it but not pin it, and a teacher elsewhere is told nothing exists
    assert _pin(courses, course_id, LESSON, version, sub="sam", role="teacher class:7b")[0] == 403
    assert _pin(courses, course_id, LESSON, version, sub="sid", role="teacher")[0] == 404
    # And a member's read shows the same live version, unpinned
    status, course = _read(courses, course_id, sub="sam", role="student class:7b")
    assert status == 200 and _lesson(course)["content_id"] == version
