"""Class sharing of courses, through the handlers on moto: a teacher shares a course with a class (a ``class:<id>``
group in the role claim) or by a revocable link; members read it, others get 404, members who try to manage it
403; a revoked share reads no more; erasing the teacher takes the course and its shares with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from tests.integration.conftest import api_event, call, run_worker
from tests.integration.test_courses import SMALL, CountingGenerator, _get, _post

if TYPE_CHECKING:
    from tests.integration.conftest import Aws


@pytest.fixture
def courses(aws: Aws) -> Any:
    """The course function; the worker writes the courses with test_courses' counting offline model."""
    from functions.courses import app
    from pregen.wiring import worker as worker_wiring

    worker_wiring.worker_deps().generator = CountingGenerator()
    return app


def _share(courses: Any, course_id: str, body: Any, *, sub: str = "tess", role: str = "teacher") -> tuple[int, Any]:
    path = f"/v1/courses/{course_id}/shares"
    event = api_event(
        "courses_share.json", sub=sub, role=role, body=body, path=path, path_parameters={"course": course_id}
    )
    status, _, answer = call(courses, event)
    return status, answer


def _revoke(courses: Any, course_id: str, share: str, *, sub: str = "tess", role: str = "teacher") -> tuple[int, Any]:
    path = f"/v1/courses/{course_id}/shares/{share}"
    parameters = {"course": course_id, "share": share}
    status, _, answer = call(
        courses, api_event("courses_unshare.json", sub=sub, role=role, path=path, path_parameters=parameters)
    )
    return status, answer


def _read(
    courses: Any, course_id: str, *, sub: str, role: str = "student", share: str | None = None
) -> tuple[int, Any]:
    path = f"/v1/courses/{course_id}"
    event = api_event(
        "courses_get.json",
        sub=sub,
        role=role,
        path=path,
        path_parameters={"course": course_id},
        query={"share": share} if share else {},
    )
    status, _, answer = call(courses, event)
    return status, answer


def _teachers_course(aws: Aws, courses: Any) -> str:
    status, _, accepted = _post(courses, SMALL, sub="tess")
    assert status == 202, accepted
    run_worker(aws, "InteractiveQueue", max_batches=500)
    assert _get(courses, accepted["course_id"], sub="tess")[2]["status"] == "ready"
    return str(accepted["course_id"])


def test_a_course_shared_with_a_class_is_read_by_its_members_until_revoked(aws: Aws, courses: Any) -> None:
    # Given a teacher's ready course, shared with class 7b
    course_id = _teachers_course(aws, courses)
    status, shared = _share(courses, course_id, {"class_id": "7b"})
    assert status == 201, shared
    assert (shared["share_id"], shared["kind"], shared["class_id"]) == ("class-7b", "class", "7b")
    assert "token" not in shared
    # Then a member of 7b (the group class:7b) reads it, marked as read through the class, without the shares
    status, course = _read(courses, course_id, sub="sam", role="student class:7b")
    assert (status, course["access"], course["status"]) == (200, "class", "ready"), course
    assert "shares" not in course
    assert course["modules"][0]["lessons"][0]["content"]["content"]
    # And the owner sees the share in the course
    owner_view = _read(courses, course_id, sub="tess", role="teacher")[1]
    assert owner_view["access"] == "owner"
    assert [s["share_id"] for s in owner_view["shares"]] == ["class-7b"]
    # And a student of another class, or of none, is told nothing exists (404)
    for role in ("student class:7c", "student"):
        status, answer = _read(courses, course_id, sub="sid", role=role)
        assert (status, answer["error"]["code"]) == (404, "not_found"), answer
    # And a member who tries to share or revoke it is forbidden (403); a stranger gets 404
    assert _share(courses, course_id, {"link": True}, sub="sam", role="teacher class:7b")[0] == 403
    assert _revoke(courses, course_id, "class-7b", sub="sam", role="teacher class:7b")[0] == 403
    assert _revoke(courses, course_id, "class-7b", sub="sid", role="teacher")[0] == 404
    # When the teacher revokes the share
    status, revoked = _revoke(courses, course_id, "class-7b")
    assert (status, revoked) == (200, {"course_id": course_id, "share_id": "class-7b", "revoked": True})
    # Then the member reads it no more, and revoking it again is a 404
    assert _read(courses, course_id, sub="sam", role="student class:7b")[0] == 404
    assert _revoke(courses, course_id, "class-7b")[0] == 404


def test_a_link_opens_the_course_to_whoever_holds_it_until_revoked(aws: Aws, courses: Any) -> None:
    # Given a teacher's course and a link made for it
    course_id = _teachers_course(aws, courses)
    status, link = _share(courses, course_id, {"link": True})
    assert status == 201, link
    assert link["kind"] == "link" and link["share_id"].startswith("link-")
    token = link["token"]
    # Then anyone signed in with the token reads it; a forged secret for the same link does not
    status, course = _read(courses, course_id, sub="pat", share=token)
    assert (status, course["access"]) == (200, "link"), course
    forged = token.split(".")[0] + "." + "A" * 43
    assert _read(courses, course_id, sub="pat", share=forged)[0] == 404
    # And a token that is not a token's shape is a 400
    status, answer = _read(courses, course_id, sub="pat", share="not a token")
    assert (status, answer["error"]["code"]) == (400, "invalid_request"), answer
    # When the teacher revokes the link
    assert _revoke(courses, course_id, link["share_id"])[0] == 200
    # Then the token opens nothing
    assert _read(courses, course_id, sub="pat", share=token)[0] == 404


@pytest.mark.parametrize(
    ("body", "role", "status"),
    [
        ({"class_id": "7b", "link": True}, "teacher", 400),
        ({}, "teacher", 400),
        ({"class_id": "no spaces allowed"}, "teacher", 400),
        ({"link": False}, "teacher", 400),
        ({"link": "yes"}, "teacher", 400),
        ({"class_id": "7b"}, "student", 403),
    ],
)
def test_a_bad_share_is_a_4xx_json_error(aws: Aws, courses: Any, body: Any, role: str, status: int) -> None:
    # Given a course of the caller's (planning: sharing does not wait for it)
    accepted = _post(courses, SMALL, sub="tess")[2]
    # When they share it badly, or as a student
    answer_status, answer = _share(courses, accepted["course_id"], body, role=role)
    # Then the answer is a 4xx JSON error
    assert answer_status == status, answer
    assert answer["error"]["code"] in ("invalid_request", "forbidden")


def test_erasing_the_teacher_ends_the_courses_shares_and_erasing_a_member_changes_nothing(
    aws: Aws, courses: Any
) -> None:
    from tests.integration.test_learner_data import erase

    # Given a course shared with class 7b, read by sam
    course_id = _teachers_course(aws, courses)
    assert _share(courses, course_id, {"class_id": "7b"})[0] == 201
    # When sam (a member) is erased, nothing of sam's is in the share: the class still reads it
    assert erase("sam")[0] == 202
    run_worker(aws, "InteractiveQueue", max_batches=50)
    assert _read(courses, course_id, sub="sol", role="student class:7b")[0] == 200
    # When the teacher is erased
    assert erase("tess")[0] == 202
    run_worker(aws, "InteractiveQueue", max_batches=50)
    # Then the course and its shares are gone: members get 404
    assert _read(courses, course_id, sub="sol", role="student class:7b")[0] == 404
    items = aws.dynamodb.query(
        TableName=aws.env["EXAMS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"course#{course_id}"}},
    )["Items"]
    assert items == []


def _shared(courses: Any, *, sub: str, role: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    event = api_event("courses_list.json", sub=sub, role=role, query={"shared": "true", **(query or {})})
    status, _, answer = call(courses, event)
    return status, answer


def test_members_list_the_courses_shared_with_their_classes_a_page_at_a_time(aws: Aws, courses: Any) -> None:
    # Given a teacher's three courses shared with classes 7b and 7c (one with both), and another's with 8a
    accepted = [_post(courses, {**SMALL, "subject": s}, sub="tess")[2]["course_id"] for s in ("algae", "bees", "cells")]
    algae, bees, cells = accepted
    other = _post(courses, {**SMALL, "subject": "dunes"}, sub="tom")[2]["course_id"]
    for course_id, class_id in ((algae, "7b"), (bees, "7b"), (bees, "7c"), (cells, "7c")):
        assert _share(courses, course_id, {"class_id": class_id})[0] == 201
    assert _share(courses, other, {"class_id": "8a"}, sub="tom")[0] == 201
    # When a member of 7b and 7c lists the courses shared with them, two at a time
    member = "student class:7b class:7c"
    status, first = _shared(courses, sub="sam", role=member, query={"limit": "2"})
    assert status == 200, first
    status, second = _shared(courses, sub="sam", role=member, query={"limit": "2", "cursor": first["next_cursor"]})
    assert status == 200, second
    # Then they see each of the three once, newest first, marked shared with the classes that give it to them
    items = first["items"] + second["items"]
    assert sorted(i["course_id"] for i in items) == sorted(accepted)
    assert [i["created_at"] for i in items] == sorted((i["created_at"] for i in items), reverse=True)
    assert {i["course_id"]: i["classes"] for i in items} == {algae: ["7b"], bees: ["7b", "7c"], cells: ["7c"]}
    assert all(i["shared"] is True for i in items)
    assert (len(first["items"]), second["next_cursor"]) == (2, None)
    # And the cursor is the member's only: another caller's use of it is a 400
    status, answer = _shared(courses, sub="sid", role=member, query={"cursor": first["next_cursor"]})
    assert (status, answer["error"]["code"]) == (400, "invalid_request"), answer
    # And the owner's own listing is not the shared one's: the cursor of one is refused by the other
    own = _list_own(courses, sub="sam", query={"cursor": first["next_cursor"]})
    assert own[0] == 400
    # When the teacher revokes 7c's share of "cells", a member of 7c lists it no more
    assert _revoke(courses, cells, "class-7c")[0] == 200
    status, only_7c = _shared(courses, sub="cam", role="student class:7c")
    assert [i["course_id"] for i in only_7c["items"]] == [bees]
    # And a caller in no class lists nothing; the teacher's own listing marks her courses not shared
    assert _shared(courses, sub="nat", role="student")[1] == {"items": [], "next_cursor": None, "courses": []}
    assert {i["shared"] for i in _list_own(courses, sub="tess")[1]["items"]} == {False}


def _list_own(courses: Any, *, sub: str, query: dict[str, str] | None = None) -> tuple[int, Any]:
    status, _, answer = call(courses, api_event("courses_list.json", sub=sub, query=query or {}))
    return status, answer
