"""How content and jobs look on the wire: the one place that shapes response bodies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pregen.models import Job
    from pregen.ports import StoredContent


def content_body(content: StoredContent) -> dict[str, Any]:
    return {
        "key": content.key,
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
