"""What an app hears when work ends: Pregen's events, put on the stack's EventBridge bus (and forwarded by the
optional webhook, ``pregen.domain.webhooks``).

An event is derived from the change that ended the work, read from the tables' streams (``functions/notify``):
a job's record turning ``done`` or ``failed``, a course's turning ``ready`` or ``failed``, an exam stored ``ready``
and an erasure's tombstone turning ``done``. The stream is the outbox: an event exists if and only if the change
was written, whichever path wrote it (the worker, the batch collector, the cron's dead-letter settling), and no
write path carries code of its own for it.

Delivery is at least once (a stream batch or a webhook call can be retried): ``detail.event_id`` is the same for
every delivery of one change, so a consumer drops what it has seen. Every event's ``source`` is ``pregen``; the
``detail-type`` and the fields of ``detail`` are below (times are epoch seconds, as everywhere in the API).

| detail-type        | detail                                                                             |
|--------------------|------------------------------------------------------------------------------------|
| `Job Done`         | event_id, job_id, key, kind, status, owner (the learner for personal content, else null), at |
| `Job Failed`       | the same and reason                                                                |
| `Course Ready`     | event_id, course_id, owner, status, parts_total, parts_done, parts_failed, at     |
| `Course Failed`    | the same and reason                                                                |
| `Exam Ready`       | event_id, exam_id, owner, exam_type, program, at                                   |
| `Erasure Complete` | event_id, learner_digest (sha256 of the learner's id, hex, first 40), by_admin, at |

An erasure's event names the learner only by a digest: the tombstone keeps nothing else of them, and an app that
asked for the erasure computes the same digest to match it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

SOURCE = "pregen"
JOB_DONE = "Job Done"
JOB_FAILED = "Job Failed"
COURSE_READY = "Course Ready"
COURSE_FAILED = "Course Failed"
EXAM_READY = "Exam Ready"
ERASURE_COMPLETE = "Erasure Complete"
DETAIL_TYPES = (JOB_DONE, JOB_FAILED, COURSE_READY, COURSE_FAILED, EXAM_READY, ERASURE_COMPLETE)


@dataclass(frozen=True)
class Notification:
    detail_type: str
    detail: dict[str, Any]


def _whole(value: Any) -> int | None:
    return None if value is None else int(value)


def _job(pk: str, status: str, new: Mapping[str, Any]) -> Notification:
    detail = {
        "event_id": f"{pk}#{status}",
        "job_id": new.get("job_id"),
        "key": new.get("key"),
        "kind": new.get("kind"),
        "status": status,
        "owner": new.get("owner"),
        "at": _whole(new.get("updated_at")),
    }
    if status == "failed":
        return Notification(JOB_FAILED, {**detail, "reason": new.get("reason")})
    return Notification(JOB_DONE, detail)


def _course(pk: str, status: str, new: Mapping[str, Any]) -> Notification:
    detail = {
        "event_id": f"{pk}#{status}#{int(new.get('retries', 0))}",  # a retried course can end again
        "course_id": new.get("course_id"),
        "owner": new.get("owner"),
        "status": status,
        "parts_total": _whole(new.get("parts_total", 0)),
        "parts_done": _whole(new.get("parts_done", 0)),
        "parts_failed": _whole(new.get("parts_failed", 0)),
        "at": _whole(new.get("ready_at") or new.get("updated_at")),
    }
    if status == "failed":
        return Notification(COURSE_FAILED, {**detail, "reason": new.get("reason")})
    return Notification(COURSE_READY, detail)


def _exam(pk: str, status: str, new: Mapping[str, Any]) -> Notification:
    detail = {
        "event_id": f"{pk}#{status}",
        "exam_id": new.get("exam_id"),
        "owner": new.get("owner"),
        "exam_type": new.get("exam_type"),
        "program": new.get("program"),
        "at": _whole(new.get("created_at")),
    }
    return Notification(EXAM_READY, detail)


def _erasure(pk: str, status: str, new: Mapping[str, Any]) -> Notification:
    detail = {
        "event_id": f"{pk}#{status}#{_whole(new.get('requested_at'))}",  # a learner may be erased again
        "learner_digest": pk.removeprefix("erased#"),
        "by_admin": bool(new.get("by_admin", False)),
        "at": _whole(new.get("done_at")),
    }
    return Notification(ERASURE_COMPLETE, detail)


# The item's sort key → its partition's prefix, the statuses that end its work, and the event they mean.
_ENDINGS: dict[str, tuple[str, tuple[str, ...], Callable[[str, str, Mapping[str, Any]], Notification]]] = {
    "job": ("job#", ("done", "failed"), _job),
    "course": ("course#", ("ready", "failed"), _course),
    "exam": ("exam#", ("ready",), _exam),
    "erasure": ("erased#", ("done",), _erasure),
}


def notification_for(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Notification | None:
    """The event a change of one item means, or None. ``old`` and ``new`` are the stream's images as plain values
    (None for an insert's old image and a removal's new one: a removal is never news)."""
    if not new:
        return None
    pk = str(new.get("pk", ""))
    ending = _ENDINGS.get(str(new.get("sk")))
    if ending is None:
        return None
    prefix, statuses, build = ending
    if not pk.startswith(prefix):
        return None
    status = new.get("status")
    if status not in statuses or (old is not None and old.get("status") == status):
        return None  # not an ending, or a rewrite of one already announced
    return build(pk, str(status), new)
