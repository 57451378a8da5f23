"""How content and jobs look on the wire: the one place that shapes response bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pregen.domain.inventory import ExamRecord, ExamSlot
    from pregen.domain.library import Version
    from pregen.domain.models import Job
    from pregen.domain.records import StoredContent
    from pregen.services.content import Enqueued
    from pregen.services.exams import InventoryView
    from pregen.services.navigation import NavigationOutcome
    from pregen.services.voting import VoteOutcome
    from pregen.services.warming import WarmReport


def content_body(content: StoredContent) -> dict[str, Any]:
    return {
        "key": content.key,
        "content_id": content.meta.get("version_id"),  # the served version: what learners vote on
        "kind": content.kind,
        "content": content.body,
        "meta": content.meta,
        "created_at": int(content.created_at),
        "expires_at": int(content.expires_at),
    }


def job_body(job: Job, content: StoredContent | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_id": job.job_id,
        "status": job.status.value,
        "key": job.key,
        "kind": job.kind.value,
        "lane": job.lane.value,
        "priority": job.priority,
        "attempts": job.attempts,
        "reason": job.reason,
        "created_at": int(job.created_at),
        "updated_at": int(job.updated_at),
        "correlation_id": job.correlation_id,
    }
    if content is not None:
        body["content"] = content_body(content)
    return body


def job_location(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def version_body(version: Version, key_hits: int) -> dict[str, Any]:
    """One version of a key as the library lists it: votes, status, usage and its figures, never its body."""
    return {
        "content_id": version.version_id,
        "status": version.status.value,
        "served": version.is_best,
        "votes": {
            "up": version.up,
            "down": version.down,
            "net": version.net,
            "approval": round(version.approval, 3),
        },
        "usage_count": version.usage_count(key_hits),
        **version.figures,
        "regenerate_of": version.regenerate_of,
        "regeneration_requested": version.regen_requested_at is not None,
        "created_at": int(version.created_at),
        "expires_at": int(version.expires_at),
    }


# -- exams --------------------------------------------------------------------------------------------------------


def exam_slot_body(slot: ExamSlot) -> dict[str, Any]:
    body: dict[str, Any] = {
        "exam_id": slot.exam_id,
        "exam_type": slot.exam_type,
        "program": slot.program,
        "status": slot.status.value,
        "sections_done": slot.sections_done,
        "sections_total": slot.sections_total,
        "lane": slot.lane,
        "created_at": int(slot.created_at),
        "expires_at": int(slot.expires_at),
    }
    if slot.reason:
        body["reason"] = slot.reason
    return body


def exam_body(exam: ExamRecord) -> dict[str, Any]:
    return {
        "exam_id": exam.exam_id,
        "exam_type": exam.exam_type,
        "program": exam.program,
        "status": exam.status.value,
        "claimed_at": int(exam.claimed_at) if exam.claimed_at else None,
        "expires_at": int(exam.expires_at),
        "meta": exam.meta,
        "exam": exam.body,
    }


def inventory_body(view: InventoryView) -> dict[str, Any]:
    return {
        "exam_type": view.exam_type,
        "target": view.target,
        "ready": len(view.ready),
        "generating": len(view.generating),
        "claimed": len(view.claimed),
        "failed": len(view.failed),
        "exams": [exam_slot_body(s) for s in view.ready + view.generating + view.failed],
    }


def exam_location(exam_id: str) -> str:
    return f"/v1/exams/{exam_id}"


def inventory_location(exam_type: str) -> str:
    return f"/v1/exams/{exam_type}/inventory"


def pregenerate_body(priority: int, results: list[Enqueued]) -> dict[str, Any]:
    return {"priority": priority, "results": [{"key": r.key, "status": r.status, "job_id": r.job_id} for r in results]}


def warm_body(report: WarmReport, source: str) -> dict[str, Any]:
    # The job ids let a client (or `pregen warm`) follow what this warm queued.
    return {**report.as_dict(), "source": source, "job_ids": report.job_ids}


def navigation_body(outcome: NavigationOutcome, grade: str | None) -> dict[str, Any]:
    return {"recorded": outcome.recorded, "grade": grade, "preloads": [p.as_dict() for p in outcome.preloads]}


def versions_body(key: str, versions: list[Version], key_hits: int) -> dict[str, Any]:
    return {"key": key, "versions": [version_body(v, key_hits) for v in versions]}


def vote_body(content_id: str, outcome: VoteOutcome) -> dict[str, Any]:
    return {
        "content_id": content_id,
        "vote": outcome.vote,
        "changed": outcome.changed,
        "status": outcome.version.status.value,
        "votes": {"up": outcome.version.up, "down": outcome.version.down, "net": outcome.version.net},
        "approved_now": outcome.approved_now,
        "served_version": outcome.served_version,
        "regeneration_job_id": outcome.regeneration.job_id if outcome.regeneration else None,
    }


def accepted_job_body(job: Job, joined: bool) -> dict[str, Any]:
    """A 202's body: the job that makes the content (``joined``: it was already in flight for this key)."""
    return {"job_id": job.job_id, "status": job.status.value, "key": job.key, "joined": joined}


def exam_waiting_body(exam_type: str, slot: ExamSlot | None, retry_after_seconds: int) -> dict[str, Any]:
    """A claim that found nothing ready: the exam being generated for the learner, and when to ask again."""
    return {
        "status": "generating",
        "exam_type": exam_type,
        "job": exam_slot_body(slot) if slot else None,
        "retry_after": retry_after_seconds,
    }
