"""How content and jobs look on the wire: the one place that shapes response bodies.

Each body is a TypedDict: mypy checks that a presenter builds exactly its keys, and the routes name it as their
answer's model, so the OpenAPI document (pregen_tools.openapi) states the same shape. No runtime cost: a TypedDict
is a plain dict.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, NotRequired, cast

from pydantic.alias_generators import to_snake
from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

from pregen.domain.attempts import sees_answers, student_exam, student_meta

# Imported at run time: pydantic reads these annotations to write the document's enums of the bodies' closed sets.
from pregen.domain.inventory import ExamStatus  # noqa: TC001
from pregen.domain.library import VersionStatus  # noqa: TC001
from pregen.domain.models import JobStatus, Kind

if TYPE_CHECKING:
    from pregen.domain.attempts import Attempt
    from pregen.domain.inventory import ExamRecord, ExamSlot
    from pregen.domain.library import Version
    from pregen.domain.models import Job, JobRef, Role
    from pregen.domain.records import ErasureStatus, StoredContent
    from pregen.services.content import Enqueued
    from pregen.services.exams import InventoryView, Warmed
    from pregen.services.learners import ErasureAccepted, Page
    from pregen.services.navigation import NavigationOutcome
    from pregen.services.voting import VoteOutcome
    from pregen.services.warming import WarmReport


class ContentBody(TypedDict):
    key: str
    content_id: str | None  # the served version: what learners vote on
    kind: Kind
    content: dict[str, Any]
    meta: dict[str, Any]
    created_at: int
    expires_at: int


class JobBody(TypedDict):
    job_id: str
    status: JobStatus
    key: str
    kind: Kind
    lane: str
    priority: int
    attempts: int
    reason: str | None
    created_at: int
    updated_at: int
    correlation_id: str | None
    model_calls: int  # across re-asks, retries and deliveries; at most the worker's MAX_MODEL_CALLS
    next_attempt_at: int | None  # when a failed delivery is tried again
    history: list[AttemptBody]
    content: NotRequired[ContentBody]  # once it is ready


class AttemptBody(TypedDict):
    """One delivery's attempt, as the job keeps it; ``at`` in whole epoch seconds, as every time in the API."""

    at: int
    outcome: str
    reason: NotRequired[str]
    model: NotRequired[str]
    calls: NotRequired[int]
    tokens: NotRequired[int]
    cost_usd: NotRequired[float]


class AcceptedJobBody(TypedDict):
    """A 202's body: the job that makes the content (``joined``: it was already in flight for this key)."""

    job_id: str
    status: JobStatus
    key: str
    joined: bool


class Votes(TypedDict):
    up: int
    down: int
    net: int


class ApprovalVotes(Votes):
    approval: float


class VersionFigures(TypedDict):
    """A version's figures, recorded once when it was generated (adapters/library.py _FIGURES)."""

    validation_score: NotRequired[float | None]
    validation_checks: NotRequired[dict[str, float] | None]  # each check's result (pregen.domain.quality), 0-1
    estimated_minutes: NotRequired[float | None]
    latency_ms: NotRequired[float | None]
    tokens: NotRequired[int | None]
    model: NotRequired[str | None]
    generator: NotRequired[str | None]
    cost_usd: NotRequired[float | None]


class VersionBody(VersionFigures):
    content_id: str
    status: VersionStatus
    served: bool
    votes: ApprovalVotes
    usage_count: int
    regenerate_of: str | None
    regeneration_requested: bool
    created_at: int
    expires_at: int


class VersionContentBody(VersionFigures):
    """One version as it was generated: its body and figures. Nothing that changes later (votes, status, whether
    it is served) is in it, so the answer for a content id never changes and its ETag is the content id."""

    content_id: str
    key: str
    kind: Kind
    content: dict[str, Any]
    regenerate_of: str | None
    created_at: int
    expires_at: int


class VersionsBody(TypedDict):
    key: str
    versions: list[VersionBody]


class VoteResultBody(TypedDict):
    content_id: str
    vote: str
    changed: bool
    status: VersionStatus
    votes: Votes
    approved_now: bool
    served_version: str | None
    regeneration_job_id: str | None


class ExamSlotBody(TypedDict):
    exam_id: str
    exam_type: str
    program: str
    status: ExamStatus
    sections_done: int
    sections_total: int
    lane: str
    created_at: int
    expires_at: int
    reason: NotRequired[str]


class ExamBody(TypedDict):
    """A claimed exam. A student's view has no answers, explanations or internal figures in ``exam`` and ``meta``
    (answer with ``POST /v1/exams/{exam}/answers``); a teacher's or an admin's has all of them."""

    exam_id: str
    exam_type: str
    program: str
    status: str
    claimed_at: int | None
    expires_at: int
    view: Literal["student", "full"]
    meta: dict[str, Any]
    exam: dict[str, Any]


class QuestionResultBody(TypedDict):
    index: int  # the question's place in the exam (sections in order), as its answer's in ``answers``
    domain: str
    correct: bool
    given: Any  # the answer sent (null: not answered)
    answer: Any  # the right answer, in the shape answers take
    explanation: str


class GradedAttemptBody(TypedDict):
    """A graded attempt: the score and, per question, whether it was right, the right answer and why."""

    exam_id: str
    exam_type: str
    submitted_at: int
    expires_at: int
    correct: int
    total: int
    percent: float
    results: list[QuestionResultBody]


class ExamWaitingBody(TypedDict):
    """A claim that found nothing ready: the exam being generated for the learner, and when to ask again."""

    status: Literal["generating"]
    exam_type: str
    job: ExamSlotBody | None
    retry_after: int


class InventoryBody(TypedDict):
    exam_type: str
    target: int
    ready: int
    generating: int
    claimed: int
    failed: int
    exams: list[ExamSlotBody]


class ExamTypeWarmedBody(TypedDict):
    exam_type: str
    ready: int
    generating: int
    enqueued: int
    inventory: str  # where to follow its progress


class ExamsWarmedBody(TypedDict):
    """The caller's inventory per exam type after a warm: ready, being generated, and enqueued by this call."""

    exam_types: list[ExamTypeWarmedBody]


class LearnerItemBody(TypedDict):
    """One of the learner's items: ``type`` says which (content, vote, job, exam, course) and which fields follow."""

    type: Literal["content", "vote", "job", "exam", "course", "attempt"]
    created_at: NotRequired[int]
    expires_at: NotRequired[int]
    content_id: NotRequired[str]
    key: NotRequired[str]
    kind: NotRequired[str]
    vote: NotRequired[str]
    voted_at: NotRequired[int]
    job_id: NotRequired[str]
    status: NotRequired[str]
    exam_id: NotRequired[str]
    exam_type: NotRequired[str]
    course_id: NotRequired[str]
    correct: NotRequired[int]  # an attempt's score: ``correct`` of ``total``
    total: NotRequired[int]


class LearnerDataBody(TypedDict):
    """A page of the caller's personal items: ``limit`` of them unless the listing ends in this page, where
    ``next_cursor`` is null."""

    items: list[LearnerItemBody]
    next_cursor: str | None


class ErasureBody(TypedDict):
    learner: str
    status: Literal["erasing"]
    requested_at: int
    done_within_seconds: int


class ErasureStatusBody(TypedDict):
    learner: str
    status: Literal["erasing", "done"]
    requested_at: int
    passes_done: int  # of 2
    done_at: int | None
    writes_refused_until: int  # the tombstone's end: until then nothing of the learner's from before comes back


class EnqueuedBody(TypedDict):
    key: str
    status: Literal["queued", "in_flight", "cached"]
    job_id: str | None


class PregenerateBody(TypedDict):
    priority: int
    results: list[EnqueuedBody]


class WarmBody(TypedDict):
    grade: str
    subjects: list[str]
    requested: int
    queued: int
    in_flight: int
    cached: int
    source: str
    job_ids: list[str]


class PreparedBody(TypedDict):
    request: dict[str, Any]  # canonical: the query of GET /v1/content that finds this item
    key: str
    status: Literal["queued", "in_flight", "cached"]
    job_id: NotRequired[str]


class PreloadBody(TypedDict):
    target: str
    probability: float
    confidence: float
    source: str
    items: int
    queued: int
    in_flight: int
    cached: int
    skipped: NotRequired[str]
    requests: list[PreparedBody]


class NavigationBody(TypedDict):
    recorded: str | None
    grade: str | None
    preloads: list[PreloadBody]


def content_body(content: StoredContent) -> ContentBody:
    return {
        "key": content.key,
        "content_id": content.meta.get("version_id"),  # the served version: what learners vote on
        "kind": Kind(content.kind),
        "content": content.body,
        "meta": content.meta,
        "created_at": int(content.created_at),
        "expires_at": int(content.expires_at),
    }


def job_body(job: Job, content: StoredContent | None = None) -> JobBody:
    body: JobBody = {
        "job_id": job.job_id,
        "status": job.status,
        "key": job.key,
        "kind": job.kind,
        "lane": job.lane.value,
        "priority": job.priority,
        "attempts": job.attempts,
        "reason": job.reason,
        "created_at": int(job.created_at),
        "updated_at": int(job.updated_at),
        "correlation_id": job.correlation_id,
        "model_calls": job.model_calls,
        "next_attempt_at": int(job.next_attempt_at) if job.next_attempt_at is not None else None,
        "history": [cast("AttemptBody", {**entry, "at": int(entry["at"])}) for entry in job.history],
    }
    if content is not None:
        body["content"] = content_body(content)
    return body


def job_location(job_id: str) -> str:
    return f"/v1/jobs/{job_id}"


def version_body(version: Version, key_hits: int) -> VersionBody:
    """One version of a key as the library lists it: votes, status, usage and its figures, never its body."""
    body = {
        "content_id": version.version_id,
        "status": version.status,
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
    return cast("VersionBody", body)  # the figures' keys are the adapter's (adapters/library.py _FIGURES)


def version_content_body(version: Version, content: StoredContent) -> VersionContentBody:
    """A version's body and figures, only what never changes (see VersionContentBody)."""
    body = {
        "content_id": version.version_id,
        "key": version.key,
        "kind": Kind(version.kind),
        "content": content.body,
        **version.figures,
        "regenerate_of": version.regenerate_of,
        "created_at": int(version.created_at),
        "expires_at": int(version.expires_at),
    }
    return cast("VersionContentBody", body)  # the figures' keys are the adapter's (adapters/library.py _FIGURES)


# -- exams --------------------------------------------------------------------------------------------------------


def exam_slot_body(slot: ExamSlot) -> ExamSlotBody:
    body: ExamSlotBody = {
        "exam_id": slot.exam_id,
        "exam_type": slot.exam_type,
        "program": slot.program,
        "status": slot.status,
        "sections_done": slot.sections_done,
        "sections_total": slot.sections_total,
        "lane": slot.lane,
        "created_at": int(slot.created_at),
        "expires_at": int(slot.expires_at),
    }
    if slot.reason:
        body["reason"] = slot.reason
    return body


def exam_body(exam: ExamRecord, role: Role) -> ExamBody:
    full = sees_answers(role)
    return {
        "exam_id": exam.exam_id,
        "exam_type": exam.exam_type,
        "program": exam.program,
        "status": exam.status.value,
        "claimed_at": int(exam.claimed_at) if exam.claimed_at else None,
        "expires_at": int(exam.expires_at),
        "view": "full" if full else "student",
        "meta": exam.meta if full else student_meta(exam.meta),
        "exam": exam.body if full else student_exam(exam.body),
    }


def attempt_body(attempt: Attempt) -> GradedAttemptBody:
    return {
        "exam_id": attempt.exam_id,
        "exam_type": attempt.exam_type,
        "submitted_at": int(attempt.submitted_at),
        "expires_at": int(attempt.expires_at),
        "correct": attempt.correct,
        "total": attempt.total,
        "percent": attempt.percent,
        # the fields of QuestionResult are those of QuestionResultBody, one to one
        "results": [cast("QuestionResultBody", vars(r)) for r in attempt.results],
    }


def inventory_body(view: InventoryView) -> InventoryBody:
    return {
        "exam_type": view.exam_type,
        "target": view.target,
        "ready": len(view.ready),
        "generating": len(view.generating),
        "claimed": len(view.claimed),
        "failed": len(view.failed),
        "exams": [exam_slot_body(s) for s in view.ready + view.generating + view.failed],
    }


def exams_warmed_body(warmed: list[Warmed]) -> ExamsWarmedBody:
    return {
        "exam_types": [
            {
                "exam_type": w.exam_type,
                "ready": w.ready,
                "generating": w.generating,
                "enqueued": w.enqueued,
                "inventory": inventory_location(w.exam_type),
            }
            for w in warmed
        ]
    }


def learner_data_body(page: Page) -> LearnerDataBody:
    return {"items": cast("list[LearnerItemBody]", page.items), "next_cursor": page.next_cursor}


def erasure_body(accepted: ErasureAccepted) -> ErasureBody:
    return {
        "learner": accepted.learner,
        "status": "erasing",
        "requested_at": int(accepted.requested_at),
        "done_within_seconds": accepted.done_within_s,
    }


def erasure_status_body(learner: str, status: ErasureStatus) -> ErasureStatusBody:
    return {
        "learner": learner,
        "status": "done" if status.status == "done" else "erasing",
        "requested_at": int(status.requested_at),
        "passes_done": status.passes_done,
        "done_at": int(status.done_at) if status.done_at is not None else None,
        "writes_refused_until": int(status.expires_at),
    }


def exam_location(exam_id: str) -> str:
    return f"/v1/exams/{exam_id}"


def attempt_location(exam_id: str) -> str:
    return f"/v1/exams/{exam_id}/attempt"


def inventory_location(exam_type: str) -> str:
    return f"/v1/exams/{exam_type}/inventory"


def pregenerate_body(priority: int, results: list[Enqueued]) -> PregenerateBody:
    return {"priority": priority, "results": [{"key": r.key, "status": r.status, "job_id": r.job_id} for r in results]}


def warm_body(report: WarmReport, source: str) -> WarmBody:
    # The job ids let a client (or `pregen warm`) follow what this warm queued.
    return {
        "grade": report.grade,
        "subjects": report.subjects,
        "requested": report.requested,
        "queued": report.queued,
        "in_flight": report.in_flight,
        "cached": report.cached,
        "source": source,
        "job_ids": report.job_ids,
    }


def navigation_body(outcome: NavigationOutcome, grade: str | None) -> NavigationBody:
    preloads = [cast("PreloadBody", p.as_dict()) for p in outcome.preloads]  # rounded floats, unset keys left out
    return {"recorded": outcome.recorded, "grade": grade, "preloads": preloads}


def versions_body(key: str, versions: list[Version], key_hits: int) -> VersionsBody:
    return {"key": key, "versions": [version_body(v, key_hits) for v in versions]}


def vote_body(content_id: str, outcome: VoteOutcome) -> VoteResultBody:
    return {
        "content_id": content_id,
        "vote": outcome.vote,
        "changed": outcome.changed,
        "status": outcome.version.status,
        "votes": {"up": outcome.version.up, "down": outcome.version.down, "net": outcome.version.net},
        "approved_now": outcome.approved_now,
        "served_version": outcome.served_version,
        "regeneration_job_id": outcome.regeneration.job_id if outcome.regeneration else None,
    }


def accepted_job_body(job: Job | JobRef, joined: bool) -> AcceptedJobBody:
    return {"job_id": job.job_id, "status": job.status, "key": job.key, "joined": joined}


def exam_waiting_body(exam_type: str, slot: ExamSlot | None, retry_after_seconds: int) -> ExamWaitingBody:
    return {
        "status": "generating",
        "exam_type": exam_type,
        "job": exam_slot_body(slot) if slot else None,
        "retry_after": retry_after_seconds,
    }


# A camelCase name: lower-case start, letters and digits only, one upper-case letter at least. Data keys (kinds,
# models, queues, reasons) are snake_case, hyphenated or digits-only, so they never match.
CAMEL_CASE = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+")


def with_snake_case_names(value: Any) -> Any:
    """``value`` with the snake_case name beside every camelCase key, at any depth, holding the same value (the
    analytics answer's names; the camelCase ones stay one release as deprecated aliases)."""
    if isinstance(value, list):
        return [with_snake_case_names(inner) for inner in value]
    if not isinstance(value, dict):
        return value
    named = {key: with_snake_case_names(inner) for key, inner in value.items()}
    snake = {to_snake(key): inner for key, inner in named.items() if CAMEL_CASE.fullmatch(key)}
    return {**snake, **named}
