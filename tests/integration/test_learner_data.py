"""A learner's data on moto: listed page by page with an opaque cursor, and erased from every table on request,
leaving shared content and other learners untouched."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest

from functions.courses import app as courses
from functions.exams import app as exams
from functions.get_content import app as get_content
from functions.learners import app as learners
from functions.library import app as library
from pregen import wiring
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from tests.integration.conftest import Aws

LESSON = {"kind": "lesson", "subject": "Biology", "topic": "Cells", "grade": "10"}
PERSONAL = {**LESSON, "topic": "My notes on cells", "scope": "personal"}
COURSE = {"subject": "Biology", "grade": "10", "modules": 1, "lessons_per_module": 1}
TABLES = ("ContentTable", "JobsTable", "ExamsTable", "CountersTable", "NavigationTable")


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INVENTORY_TARGET", "1")
    monkeypatch.setenv("ERASE_SECOND_PASS_SECONDS", "0")  # the second pass at once: moto's queue holds a delay
    wiring.reset()


def get(query: dict[str, str], sub: str) -> tuple[int, Any]:
    status, _, body = call(get_content, api_event("get_content.json", sub=sub, query=query))
    return status, body


def vote(content_id: str, sub: str) -> int:
    path = f"/v1/content/{content_id}/votes"
    event = api_event(
        "library_vote.json", sub=sub, body={"vote": "up"}, path=path, path_parameters={"content_id": content_id}
    )
    return call(library, event)[0]


def listing(sub: str, cursor: str | None = None, limit: int = 2) -> tuple[int, Any]:
    query = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
    status, _, body = call(learners, api_event("learners_list.json", sub=sub, query=query))
    return status, body


def everything(sub: str, limit: int = 2) -> list[dict[str, Any]]:
    """Every page of the learner's listing, following the cursor to its end: each page but the last is full."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        status, page = listing(sub, cursor, limit)
        assert status == 200, page
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit, page
    raise AssertionError("the listing never ended")


def erase(sub: str, learner: str | None = None, role: str = "student") -> tuple[int, Any]:
    return learner_route("learners_erase", sub, learner, role)


def learner_route(event: str, sub: str, learner: str | None, role: str, suffix: str = "") -> tuple[int, Any]:
    """A learners route about the caller (``<event>_me.json``) or, with ``learner``, about anyone (``<event>.json``,
    ``/v1/learners/<learner><suffix>``)."""
    if learner is None:
        request = api_event(f"{event}_me.json", sub=sub, role=role)
    else:
        path = f"/v1/learners/{learner}{suffix}"
        request = api_event(f"{event}.json", sub=sub, role=role, path=path, path_parameters={"learner": learner})
    status, _, body = call(learners, request)
    return status, body


def job_status(sub: str, job_id: str) -> int:
    path = f"/v1/jobs/{job_id}"
    return call(get_content, api_event("get_job.json", sub=sub, path=path, path_parameters={"job_id": job_id}))[0]


def exam_call(event: str, sub: str, exam: str, suffix: str = "") -> tuple[int, Any]:
    path = f"/v1/exams/{exam}{suffix}"
    status, _, body = call(exams, api_event(event, sub=sub, path=path, path_parameters={"exam": exam}))
    return status, body


def drain(aws: Aws) -> None:
    for _ in range(3):
        run_worker(aws, "InteractiveQueue", max_batches=300)
        run_worker(aws, "BackgroundQueue", max_batches=300)


def learner_activity(aws: Aws, sub: str) -> dict[str, Any]:
    """What a learner leaves in the tables: their personal content, a vote on shared content, exams (one claimed and
    answered), jobs, activity, rate-limit windows and cost items."""
    assert get(PERSONAL, sub)[0] == 202
    assert get(LESSON, sub)[0] in {200, 202}  # shared: the second learner finds it cached
    assert call(exams, api_event("exams_warm.json", sub=sub, body={}))[0] == 202
    drain(aws)
    status, personal = get(PERSONAL, sub)
    assert status == 200, personal
    status, shared = get(LESSON, sub)
    assert status == 200, shared
    assert vote(shared["content_id"], sub) == 200
    status, claimed = exam_call("exams_claim.json", sub, "diagnostic", "/claim")
    assert status == 200, claimed
    questions = sum(len(section["questions"]) for section in claimed["exam"]["sections"])
    path = f"/v1/exams/{claimed['exam_id']}/answers"
    answers = {"answers": [0] * questions}
    event = api_event(
        "exams_answers.json", sub=sub, body=answers, path=path, path_parameters={"exam": claimed["exam_id"]}
    )
    assert call(exams, event)[0] == 201  # a graded attempt, kept with the learner's data
    status, _, course = call(courses, api_event("courses_create.json", sub=sub, body=COURSE))
    assert status == 202, course
    drain(aws)
    return {"personal": personal, "shared": shared, "exam_id": claimed["exam_id"], "course_id": course["course_id"]}


def scan(aws: Aws, table: str) -> list[dict[str, Any]]:
    """The test's own view of a whole table (a scan: tests may, the product never does)."""
    client, name = aws.dynamodb, aws.env[_ENV[table]]
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": name}
    while True:
        page = client.scan(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


_ENV = {
    "ContentTable": "CONTENT_TABLE",
    "JobsTable": "JOBS_TABLE",
    "ExamsTable": "EXAMS_TABLE",
    "CountersTable": "COUNTERS_TABLE",
    "NavigationTable": "NAVIGATION_TABLE",
}


def mentions(item: dict[str, Any], sub: str) -> bool:
    return any(
        sub in part for part in json.dumps(item, default=lambda _: "").replace('"', " ").replace("#", " ").split()
    )


def traces(aws: Aws, sub: str, personal_keys: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Every item of every table that names the learner, or sits in one of their personal content partitions."""
    found = {}
    for table in TABLES:
        hits = [i for i in scan(aws, table) if mentions(i, sub) or i["pk"]["S"] in personal_keys]
        if hits:
            found[table] = hits
    return found


def test_a_learner_lists_their_data_page_by_page_and_only_theirs(aws: Aws) -> None:
    # Given two learners who each used every feature
    alice, bob = learner_activity(aws, "alice"), learner_activity(aws, "bob")
    # When alice lists her data, two items a page
    items = everything("alice")
    # Then she sees her personal content (by version), her vote, her personal job, her exams, her graded attempt and
    # her course
    types = sorted({i["type"] for i in items})
    assert types == ["attempt", "content", "course", "exam", "job", "vote"]
    assert [i["exam_id"] for i in items if i["type"] == "attempt"] == [alice["exam_id"]]
    assert [i["course_id"] for i in items if i["type"] == "course"] == [alice["course_id"]]
    assert {i["content_id"] for i in items if i["type"] == "content"} == {alice["personal"]["content_id"]}
    assert {i["content_id"] for i in items if i["type"] == "vote"} == {alice["shared"]["content_id"]}
    assert alice["exam_id"] in {i["exam_id"] for i in items if i["type"] == "exam"}
    # (all of it in one page when the limit allows, and in pages of 3 with the same items)
    status, whole = listing("alice", limit=50)
    assert (status, whole["items"], whole["next_cursor"]) == (200, items, None)
    assert everything("alice", 3) == items
    assert all(i.get("content_id") != bob["personal"]["content_id"] for i in items)
    assert bob["exam_id"] not in {i.get("exam_id") for i in items}
    # And a cursor of bob's listing, an edited or a garbled one, is a 400
    status, page = listing("bob", limit=1)
    assert page["next_cursor"]
    status, body = listing("alice", page["next_cursor"])
    assert status == 400, body
    assert listing("alice", "not-a-cursor")[0] == 400
    assert listing("alice", "0")[0] == 400
    # (bob's own cursor, edited by one character, is refused too, and unedited takes him on)
    edited = page["next_cursor"][:-1] + ("B" if page["next_cursor"][-1] == "A" else "A")
    assert listing("bob", edited)[0] == 400
    assert listing("bob", page["next_cursor"])[0] == 200
    for forged in (b'{"p":99,"t":0,"k":null}', b'{"p":2,"t":0,"k":{"pk":{"S":"inv#bob#practice"}}}'):
        assert listing("alice", base64.urlsafe_b64encode(forged).decode().rstrip("="))[0] == 400
    assert listing("alice", limit=0)[0] == 400
    assert listing("alice", limit=101)[0] == 400


def test_erasing_a_learner_leaves_nothing_of_them_and_everything_else(aws: Aws) -> None:
    # Given two learners who used every feature; alice's personal keys known before the erasure
    alice, bob = learner_activity(aws, "alice"), learner_activity(aws, "bob")
    alice_before = everything("alice")
    personal_keys = {i["key"] for i in alice_before if i["type"] in {"content", "job"}}
    assert len(personal_keys) == 1
    personal_keys.add(f"course#{alice['course_id']}")  # the course's partition: it and its parts
    before = traces(aws, "alice", personal_keys)
    assert set(before) >= {"ContentTable", "JobsTable", "ExamsTable", "CountersTable"}
    bob_before = everything("bob")
    shared_before = {i["sk"]["S"]: i for i in scan(aws, "ContentTable") if i["pk"]["S"] == alice["shared"]["key"]}
    # When alice asks for her data to be erased
    status, body = erase("alice")
    assert status == 202, body
    assert (body["learner"], body["status"]) == ("alice", "erasing")
    drain(aws)  # the worker's two passes
    # Then no table holds anything of hers: not by her id, not in her personal partitions
    assert traces(aws, "alice", personal_keys) == {}
    # And every read of it is a 404
    assert everything("alice") == []
    assert [job_status("alice", i["job_id"]) for i in alice_before if i["type"] == "job"] == [404]
    assert [job_status("bob", i["job_id"]) for i in bob_before if i["type"] == "job"] == [200]
    assert exam_call("exams_get.json", "alice", alice["exam_id"])[0] == 404
    assert exam_call("exams_attempt.json", "alice", alice["exam_id"], "/attempt")[0] == 404
    path = f"/v1/content/{alice['personal']['content_id']}"
    read = api_event(
        "library_get.json", sub="alice", path=path, path_parameters={"content_id": alice["personal"]["content_id"]}
    )
    assert call(library, read)[0] == 404
    # And bob's data and the shared content are as they were (the shared version keeps alice's +1, anonymous)
    assert everything("bob") == bob_before
    assert get(PERSONAL, "bob")[1]["content_id"] == bob["personal"]["content_id"]
    shared_after = {i["sk"]["S"]: i for i in scan(aws, "ContentTable") if i["pk"]["S"] == alice["shared"]["key"]}
    assert set(shared_after) == set(shared_before) - {f"vote#{alice['shared']['content_id']}#alice"}
    assert exam_call("exams_get.json", "bob", bob["exam_id"])[0] == 200
    for sub, course_id, status in (("alice", alice["course_id"], 404), ("bob", bob["course_id"], 200)):
        path = f"/v1/courses/{course_id}"
        event = api_event("courses_get.json", sub=sub, path=path, path_parameters={"course": course_id})
        assert call(courses, event)[0] == status

    # When the erasure is asked for again: 202, and nothing else changes but its tombstone (asked for again)
    snapshot = {table: untombstoned(scan(aws, table)) for table in TABLES}
    assert erase("alice")[0] == 202
    drain(aws)
    assert {table: untombstoned(scan(aws, table)) for table in TABLES} == snapshot


def untombstoned(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if not i["pk"]["S"].startswith("erased#")]


def test_only_an_admin_erases_another_learner(aws: Aws) -> None:
    learner_activity(aws, "bob")
    # A student may not erase someone else, even by naming them
    status, body = erase("alice", learner="bob")
    assert status == 403, body
    assert aws.depth("InteractiveQueue") == 0
    # A student may name themselves; an admin may name anyone
    assert erase("bob", learner="bob")[0] == 202
    assert erase("ops", learner="bob", role="admin")[0] == 202
    drain(aws)
    assert traces(aws, "bob", set()) == {}


def test_a_personal_job_queued_before_the_erasure_does_not_bring_the_data_back(aws: Aws) -> None:
    from pregen.wiring.learners import learner_data_deps

    # Given alice's personal request waiting in the queue
    assert get(PERSONAL, "alice")[0] == 202
    # When an erasure pass runs before the worker reaches the job, and then the worker runs
    deps = learner_data_deps()
    deps.data.erase("alice", deps.clock.now(), job_ids=[], keys=[])
    results = run_worker(aws, "InteractiveQueue")
    # Then the job was dropped, not generated: nothing of hers is stored
    assert results and not any(r.get("batchItemFailures") for r in results)
    assert traces(aws, "alice", set()) == {}
    assert not [i for i in scan(aws, "ContentTable") if i["sk"]["S"] == "content"]
