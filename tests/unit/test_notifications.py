"""Pregen's events: which change of which item is news, how they reach the bus."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aws_emulator.streams import matches_any
from aws_emulator.template import Template
from pregen.adapters.ddb import serialize
from pregen.adapters.event_bus import notifications_of, put_on_bus
from pregen.domain import notifications as n
from pregen.domain import webhooks


def _image(item: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if item is None else serialize(item)


def record(old: dict[str, Any] | None, new: dict[str, Any] | None, seq: str = "1") -> dict[str, Any]:
    """A stream record as Lambda delivers it (NEW_AND_OLD_IMAGES)."""
    keys = new or old or {}
    body: dict[str, Any] = {"Keys": _image({"pk": keys["pk"], "sk": keys["sk"]}), "SequenceNumber": seq}
    if old is not None:
        body["OldImage"] = _image(old)
    if new is not None:
        body["NewImage"] = _image(new)
    event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    return {"eventName": event, "dynamodb": body}


JOB = {"pk": "job#j1", "sk": "job", "job_id": "j1", "key": "v1-lesson-abc", "kind": "lesson", "updated_at": 1000.5}


def test_a_job_that_ends_is_news_once() -> None:
    done = n.notification_for({**JOB, "status": "generating"}, {**JOB, "status": "done"})
    assert done == n.Notification(
        n.JOB_DONE,
        {"event_id": "job#j1#done", "job_id": "j1", "key": "v1-lesson-abc", "kind": "lesson", "status": "done",
         "owner": None, "at": 1000},
    )  # fmt: skip
    # A rewrite of a done job (a late duplicate delivery settling it again) is not news
    assert n.notification_for({**JOB, "status": "done"}, {**JOB, "status": "done", "updated_at": 2000}) is None
    # Nor is a job that is only under way, or one removed by its TTL
    assert n.notification_for({**JOB, "status": "queued"}, {**JOB, "status": "generating"}) is None
    assert n.notification_for({**JOB, "status": "done"}, None) is None


def test_a_failed_job_says_why_and_names_its_learner() -> None:
    failed = n.notification_for(None, {**JOB, "status": "failed", "reason": "permanent: refused", "owner": "alice"})
    assert failed is not None and failed.detail_type == n.JOB_FAILED
    assert (failed.detail["reason"], failed.detail["owner"]) == ("permanent: refused", "alice")


def test_courses_exams_and_erasures_end_with_their_own_events() -> None:
    course = {"pk": "course#c1", "sk": "course", "course_id": "c1", "owner": "teacher", "parts_total": 12,
              "parts_done": 12, "parts_failed": 0, "ready_at": 50.0, "retries": 1}  # fmt: skip
    ready = n.notification_for({**course, "status": "generating"}, {**course, "status": "ready"})
    assert ready is not None and ready.detail_type == n.COURSE_READY
    assert (ready.detail["course_id"], ready.detail["parts_done"], ready.detail["event_id"]) == (
        "c1",
        12,
        "course#c1#ready#1",
    )
    exam = {"pk": "exam#e1", "sk": "exam", "exam_id": "e1", "owner": "bob", "exam_type": "diagnostic",
            "program": "eppp", "created_at": 70.0, "status": "ready"}  # fmt: skip
    assert n.notification_for(None, exam) == n.Notification(
        n.EXAM_READY,
        {"event_id": "exam#e1#ready", "exam_id": "e1", "owner": "bob", "exam_type": "diagnostic", "program": "eppp",
         "at": 70},
    )  # fmt: skip
    digest = hashlib.sha256(b"carol").hexdigest()[:40]
    tomb = {"pk": f"erased#{digest}", "sk": "erasure", "requested_at": 5.0, "by_admin": False, "done_at": 900.0}
    erased = n.notification_for({**tomb, "status": "erasing"}, {**tomb, "status": "done"})
    assert erased is not None and erased.detail_type == n.ERASURE_COMPLETE
    assert erased.detail["learner_digest"] == digest and "carol" not in json.dumps(erased.detail)
    # An exam slot (the inventory's, keyed by learner) or a course part with the same statuses is not an ending
    assert n.notification_for(None, {"pk": "inv#bob#diagnostic", "sk": "exam#e1", "status": "ready"}) is None
    assert n.notification_for(None, {"pk": "course#c1", "sk": "part#p1", "status": "ready"}) is None


def test_stream_records_become_events_and_refused_ones_are_reported_by_position() -> None:
    records = [
        record({**JOB, "pk": f"job#j{i}", "status": "generating"}, {**JOB, "pk": f"job#j{i}", "status": "done"}, str(i))
        for i in range(23)
    ]
    records.append(record(None, {**JOB, "status": "queued"}, "99"))  # not news: no event
    found = notifications_of(records)
    assert [seq for seq, _ in found] == [str(i) for i in range(23)]
    requests: list[list[dict[str, Any]]] = []

    def put_events(Entries: list[dict[str, Any]]) -> dict[str, Any]:
        requests.append(Entries)
        results = [{"ErrorCode": "ThrottlingException"} if e["Detail"].count("job#j12#") else {"EventId": "x"}
                   for e in Entries]  # fmt: skip
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}

    assert put_on_bus(found, "bus", put_events) == ["12"]
    assert [len(r) for r in requests] == [10, 10, 3]  # PutEvents takes ten entries at most
    first = requests[0][0]
    assert (first["Source"], first["DetailType"], first["EventBusName"]) == ("pregen", "Job Done", "bus")
    assert json.loads(first["Detail"])["job_id"] == "j1"


def test_the_template_wakes_the_notify_function_only_for_endings() -> None:
    sources = Template(overrides={"JwtIssuer": "https://i.test", "JwtAudience": "a"}).stream_sources()
    notify = {s.table: s.filters for s in sources if s.function == "NotifyFunction"}
    assert set(notify) == {"JobsTable", "ExamsTable", "CountersTable"}
    assert matches_any(notify["JobsTable"], record({**JOB, "status": "generating"}, {**JOB, "status": "done"}))
    assert not matches_any(notify["JobsTable"], record(None, {**JOB, "status": "queued"}))
    course = {"pk": "course#c1", "sk": "course", "status": "ready"}
    assert matches_any(notify["ExamsTable"], record(None, course))
    assert not matches_any(notify["ExamsTable"], record(None, {**course, "sk": "part#p1"}))
    tomb = {"pk": "erased#x", "sk": "erasure", "status": "done"}
    assert matches_any(notify["CountersTable"], record(None, tomb))
    assert not matches_any(notify["CountersTable"], record(None, {"pk": "day#2027-01-01", "sk": "erasure#x"}))


def test_a_signature_holds_only_for_its_body_its_key_and_its_time() -> None:
    body = b'{"type":"Job Done"}'
    header = webhooks.signature("k", 1_000, body)
    assert webhooks.verify("k", header, body, now=1_100)
    assert not webhooks.verify("k", header, body + b" ", now=1_100)
    assert not webhooks.verify("other", header, body, now=1_100)
    assert not webhooks.verify("k", header, body, now=1_000 + webhooks.TOLERANCE_SECONDS + 1)  # a replay
    assert not webhooks.verify("k", "v1=abc", body, now=1_000)
    assert not webhooks.verify("k", "t=soon,v1=abc", body, now=1_000)
