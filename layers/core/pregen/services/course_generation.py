"""The worker's side of courses: plan a course (outline cached by the request), then generate each part on the
ordinary content path, and assemble the course when its last part is done (exactly one worker does, under a lease).

::

    plan message ─▶ course planning? ── yes ─▶ outline cached? ── no ─▶ lease the outline key ─▶ plan (small tier)
         │                                         │ yes                  (held: put back with a delay)
         │                                         ▼                      → validate → cache with TTL
         │                                  parts (content requests) written ─▶ planning → generating
         ▼
    course generating ─▶ one message per pending part, to the course's lane

    part message ─▶ course generating and part pending? ── no ─▶ ack (maybe assemble)
         │ yes
         ▼
    content cached? ── yes ─▶ reused
         │ no
         ▼
    generate_job (the worker's own path: lease on the key, re-asks, call cap, backoff, job history, counters)
         generated ─▶ done │ key held by another job / throttled ─▶ put back with a delay (no receive count burnt)
         raises ─▶ the lifecycle: retryable ─▶ backoff, the job retrying │ failed for good ─▶ the job and the part
                   failed with the job's reason (settle_part_failure); a plan likewise fails its course
         ▼
    part done/failed + course count (1 transaction) ─▶ all finished? ─▶ any failed: course failed
                                                     ─▶ else assembly lease ─▶ checks (the alignment
                                                        judgement: pregen.services.course_alignment) ─▶ ready

    a background course with Message Batches: ready with objectives_aligned "judging"; each assessment not judged
    yet ─▶ a JudgementMessage (background lane ─▶ a Message Batch) ─▶ its result kept with the course
    (settle_batched_judgement, or judge_directly after a failed batch result) ─▶ the last one ─▶ settle_alignment:
    the check stored as the direct path stores it, the judgements' cost in the figures
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pregen.domain.counters import Metric, course_ready_le, name
from pregen.domain.courses import (
    CATALOGUE_LIMIT,
    CourseGone,
    CourseOutline,
    CourseStatus,
    PartKind,
    PartRecord,
    PartStatus,
    catalogue_scope,
    course_figures,
    plan_parts,
    validate_course,
    validate_outline,
    validate_plan,
    with_alignment,
)
from pregen.domain.errors import ContentInvalid, GenerationFailed, LeaseHeld, PregenError
from pregen.domain.keys import cache_key, outline_key
from pregen.domain.models import STORED, Caller, ContentRequest, Job, JobStatus, Lane, Priority
from pregen.domain.records import StoredContent
from pregen.messages import CoursePartMessage, JobMessage, JudgementMessage
from pregen.observability import logger
from pregen.services.course_alignment import Judged, alignment_of, judge_course, judge_one, keep_batched
from pregen.services.erasures import refuses
from pregen.services.generation import (
    DuplicateDelivery,
    RetryLater,
    generate_job,
    generation_meta,
    settle_job_failure,
    shown_reason,
)
from pregen.services.usage import course_ready_bucket, day_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.config.functions import CoursePolicy
    from pregen.domain.courses import CourseRecord, LibraryLesson
    from pregen.domain.models import Generation
    from pregen.messages import CoursePlanMessage
    from pregen.ports import AlignmentJudge, CoursePlanner, CourseStore
    from pregen.services.failures import Failure
    from pregen.services.generation import WorkerDeps

Outcome = Literal[
    "course_gone",
    "owner_erased",
    "planned",
    "plan_waiting",
    "parts_sent",
    "part_done",
    "part_duplicate",
    "part_waiting",
    "part_failed",
    "course_ready",
    "course_failed",
    "assembling",
    "judged",
    "judgement_gone",
]
OUTLINE_KIND = "course_outline"


class AssemblyPending(PregenError):
    """Another worker holds the course's assembly lease: SQS delivers this part again to make sure it finished."""


@dataclass
class CourseWorkerDeps:
    courses: CourseStore
    content: WorkerDeps  # the content worker's ports and policy: parts are generated on its path
    planner: CoursePlanner
    policy: CoursePolicy
    judge: AlignmentJudge | None = None  # the alignment judgement's (None: the check says not judged)
    # A background course's judgements go through Message Batches (BATCH_BACKGROUND with a Batches-capable judge).
    batch_judgements: bool = False


# -- plan ------------------------------------------------------------------------------------------------------------


def plan_course(message: CoursePlanMessage, *, worker_id: str, deps: CourseWorkerDeps, lane: Lane) -> Outcome:
    """Plan the course once (the outline from the cache when the same request was planned before), write its
    parts, and send a message per pending part. A redelivery sends the pending parts again: the part handler
    ignores parts already finished."""
    course = deps.courses.get(message.course_id)
    if course is None or course.status not in (CourseStatus.PLANNING, CourseStatus.GENERATING):
        return "course_gone"
    outcome: Outcome = "parts_sent"
    if course.status is CourseStatus.PLANNING:
        planned = _outline(course, message, worker_id=worker_id, deps=deps, lane=lane)
        if planned == "waiting":
            return "plan_waiting"
        if planned == "failed":
            return "course_failed"
        outline, plan = planned
        if refuses(deps.content.erasures, course.owner, course.created_at, what="course plan"):
            return "owner_erased"  # erased while the planner worked: writing the parts would recreate the course
        _write_parts(course, outline, deps)
        deps.courses.start_generating(course.course_id, outline.model_dump(mode="json"), plan, deps.content.clock.now())
        outcome = "planned"
    pending = send_order(deps.courses.read_parts(course.course_id), course.priority)
    by_lane: dict[Lane, list[dict[str, Any]]] = {}  # in send order within each lane; SQS takes 10 a request
    for part, priority in pending:
        part_message = _part_message(course, part, message.correlation_id, priority)
        to = Priority.lane(priority) if priority != course.priority else lane
        by_lane.setdefault(to, []).append(part_message.wire())
    for to, messages in by_lane.items():
        unsent = deps.content.queue.send_batch(to, messages)
        if unsent:  # the plan's message is delivered again, and a redelivery sends the pending parts again
            raise RuntimeError(f"{len(unsent)} of the course's {len(messages)} part messages could not be sent")
    logger.info("course parts sent", course_id=course.course_id, parts=len(pending))
    if not pending:
        _settle_course(course.course_id, worker_id, deps)
    return outcome


_KIND_ORDER = {PartKind.LESSON: 0, PartKind.BRAIN_BYTES: 1, PartKind.ASSESSMENT: 2}
FIRST_LESSONS = 3  # ready before the rest, as the onboarding flow of the system this replaces had them


def send_order(parts: list[PartRecord], priority: int) -> list[tuple[PartRecord, int]]:
    """The pending parts in the order they are sent, each with its priority (the course's): the course's first
    three lessons first, then the rest in course order (module by module, each lesson before its brain bytes, the
    module's assessment last). A background course's first lessons are not lifted to the interactive lane: its
    owner chose not to wait, and three lessons at the direct price would cost a 6 x 4 course its batch floor
    (≤ 55 % of the interactive price, docs/BENCHMARKS.md); they lead its first Message Batch instead."""
    ordered = sorted(parts, key=lambda p: (p.module, p.lesson or 1_000, _KIND_ORDER[p.kind]))
    first = {p.part_id for p in [p for p in ordered if p.kind is PartKind.LESSON][:FIRST_LESSONS]}
    pending = [p for p in ordered if p.status is PartStatus.PENDING]
    return [(p, priority) for p in pending if p.part_id in first] + [
        (p, priority) for p in pending if p.part_id not in first
    ]


def _part_message(
    course: CourseRecord, part: PartRecord, correlation_id: str | None, priority: int
) -> CoursePartMessage:
    return CoursePartMessage(
        course_id=course.course_id,
        owner=course.owner,
        part_id=part.part_id,
        job_id=part.job_id,
        key=part.key,
        request=part.request,
        priority=priority,
        correlation_id=correlation_id or course.course_id,
    )


def _outline(
    course: CourseRecord,
    message: CoursePlanMessage,
    *,
    worker_id: str,
    deps: CourseWorkerDeps,
    lane: Lane,
) -> tuple[CourseOutline, dict[str, Any]] | Literal["waiting", "failed"]:
    """The course's outline and its figures: from the cache (reused), else planned under the key's lease.
    "waiting" when another course is planning the same outline (this message comes back after a delay), "failed"
    when it gave up waiting (the course is failed with the reason). A planner that fails raises: the lifecycle
    backs the plan off, or fails the course for good (``settle_plan_failure``)."""
    content = deps.content
    key = outline_key(course.request)
    now = content.clock.now()
    cached = content.store.get_content(key, now, consistent=True)
    if cached is not None:
        outline = validate_outline(course.request, cached.body)
        return outline, {**_figures_of(cached), "reused": True, "library": {"chosen": len(outline.library)}}
    try:
        content.store.acquire_lease(key, course.course_id, worker_id, now, content.policy.lease_seconds)
    except LeaseHeld:
        if message.waits >= deps.policy.course_max_waits:  # the other planner never finished, nor let go
            if deps.courses.fail(course.course_id, now, reason=f"plan: gave up after {message.waits} waits"):
                _count(deps, Metric.COURSES_FAILED)
            return "failed"
        _put_back(message, lane, deps)
        return "waiting"
    try:
        offered = _catalogue(course, deps)
        generation = deps.planner.plan_course(course.request, offered=offered, max_calls=content.policy.max_model_calls)
        try:
            outline, reuse = validate_plan(course.request, generation.body, offered)
        except ValueError as exc:
            raise ContentInvalid("the outline does not answer the course request", [str(exc)[:500]]) from exc
    except Exception:
        content.store.requeue_lease(key, worker_id)
        raise  # the lifecycle decides: back off, or fail the course for good (settle_plan_failure)
    finished = content.clock.now()
    content.store.put_content(
        StoredContent(
            key=key,
            kind=OUTLINE_KIND,
            body=outline.model_dump(mode="json"),
            meta=generation_meta(generation),
            owner=None,
            created_at=finished,
            expires_at=finished + content.policy.content_ttl_days * 86_400,
        )
    )
    content.store.end_lease(key, worker_id)
    usage = generation.usage
    _count(
        deps,
        Metric.GENERATED,
        {
            name(Metric.COST_USD, OUTLINE_KIND): generation.cost_usd,
            name(Metric.TOKENS_IN, OUTLINE_KIND): usage.input_tokens,
            name(Metric.TOKENS_OUT, OUTLINE_KIND): usage.output_tokens,
            name(Metric.COST_USD_MODEL, generation.model): generation.cost_usd,
            name(Metric.GENERATED_MODEL, generation.model): 1,
        },
        dimension=OUTLINE_KIND,
    )
    return outline, {**generation_meta(generation), "reused": False, "library": reuse.figures()}


def _catalogue(course: CourseRecord, deps: CourseWorkerDeps) -> list[LibraryLesson]:
    """The library's lessons for the course's subject, grade and language (one bounded Query), offered to the
    planner; none without a library (content stored as one item per key)."""
    library = deps.content.library
    if library is None:
        return []
    request = course.request
    scope = catalogue_scope(request.subject, request.grade, request.language)
    return library.lesson_catalogue(scope, deps.content.clock.now(), CATALOGUE_LIMIT)


def _figures_of(stored: StoredContent) -> dict[str, Any]:
    meta = stored.meta
    figures: dict[str, Any] = {
        name: meta[name] for name in ("generator", "model", "usage", "cost_usd", "latency_ms", "batch") if name in meta
    }
    figures["content_id"] = meta.get("version_id")
    return figures


def _write_parts(course: CourseRecord, outline: CourseOutline, deps: CourseWorkerDeps) -> None:
    from pregen.domain.keys import new_job_id

    owner = Caller(sub=course.owner)  # parts are shared content: the key does not depend on who asks
    records = [
        PartRecord(
            part_id=part.part_id,
            kind=part.kind,
            module=part.module,
            lesson=part.lesson,
            key=cache_key(part.request, owner),
            job_id=new_job_id(),
            request=part.request.canonical(),
        )
        for part in plan_parts(course.request, outline)
    ]
    deps.courses.put_parts(course.course_id, records, course.expires_at)


def _put_back(message: CoursePlanMessage | CoursePartMessage, lane: Lane, deps: CourseWorkerDeps) -> None:
    """Send the message again after a short delay and let this delivery succeed: waiting for another job's key
    never burns receive counts."""
    again = message.model_copy(update={"waits": message.waits + 1})
    deps.content.queue.send(lane, again.wire(), delay_seconds=deps.policy.course_part_wait_seconds)


# -- parts -----------------------------------------------------------------------------------------------------------


def generate_part(
    message: CoursePartMessage,
    *,
    receive_count: int,
    worker_id: str,
    deps: CourseWorkerDeps,
    lane: Lane,
    max_calls: int | None = None,
) -> Outcome:
    """Add one part to its course: its content from the cache (reused) or generated on the worker's own path."""
    pending = _pending_part(message, worker_id, deps)
    if pending is not None:
        return pending
    content = deps.content
    cached = content.store.get_content(message.key, content.clock.now(), consistent=True)
    if cached is not None:
        return _finish(message, cached, reused=True, worker_id=worker_id, deps=deps)
    request = ContentRequest.model_validate(message.request, context=STORED)
    created_at = _ensure_job(message, request, lane, deps)
    try:
        outcome = generate_job(
            _job_message(message, created_at),
            receive_count=receive_count,
            worker_id=worker_id,
            deps=content,
            lane=lane,
            max_calls=max_calls,
        )
    except (RetryLater, DuplicateDelivery) as held:
        # Another delivery of its own job holds the key too: the part waits (is put back) in both cases.
        why = (
            "its job is duplicate delivery"
            if isinstance(held, DuplicateDelivery)
            else "another job is generating its key"
        )
        return _wait(message, lane, worker_id, deps, why)
    if outcome in ("throttled", "handed_back"):
        return _wait(message, lane, worker_id, deps, f"its job is {outcome.replace('_', ' ')}")
    stored = content.store.get_content(message.key, content.clock.now(), consistent=True)
    if stored is None:  # expired the moment it was stored: cannot happen with a TTL of days
        raise GenerationFailed(f"content {message.key} vanished after its generation", retryable=True)
    return _finish(message, stored, reused=outcome != "generated", worker_id=worker_id, deps=deps)


def _job_message(message: CoursePartMessage, created_at: float | None = None) -> JobMessage:
    """The part's content job, as the worker's own path generates it; with its job's ``created_at`` (the lease then
    checks the job as written, with no read of it first)."""
    return JobMessage(
        job_id=message.job_id,
        key=message.key,
        request=message.request,
        priority=message.priority,
        correlation_id=message.correlation_id,
        requested_by=message.owner,
        created_at=created_at,
    )


def settle_plan_failure(course_id: str, failure: Failure, deps: CourseWorkerDeps) -> None:
    """A plan's record of a failed delivery (the lifecycle decided the failure and its backoff): failed for good
    (a permanent error, or the last delivery), the course shows why and a retry plans again; else nothing."""
    logger.warning("course plan failed", course_id=course_id, reason=failure.reason, final=failure.final)
    if failure.final and deps.courses.fail(course_id, deps.content.clock.now(), reason=f"plan: {failure.reason}"):
        _count(deps, Metric.COURSES_FAILED)


def settle_part_failure(
    message: CoursePartMessage,
    exc: Exception,
    failure: Failure,
    next_attempt_at: float | None,
    *,
    worker_id: str,
    deps: CourseWorkerDeps,
) -> None:
    """A part's record of a failed delivery: its job's, as any content job's (``settle_job_failure``); failed for
    good, the part fails too with the job's reason (and the course settles when it was the last)."""
    settle_job_failure(_job_message(message), exc, failure, deps.content, next_attempt_at)
    if failure.final:
        _fail_part(message, shown_reason(exc, failure), worker_id, deps)


def _pending_part(message: CoursePartMessage, worker_id: str, deps: CourseWorkerDeps) -> Outcome | None:
    """None when the part still needs its content; otherwise what became of this delivery."""
    course = deps.courses.get(message.course_id)
    if course is None or course.status is not CourseStatus.GENERATING:
        return "course_gone"
    part = deps.courses.get_part(message.course_id, message.part_id)
    if part is None or part.job_id != message.job_id:
        return "course_gone"  # a message of an earlier round (the part was retried under a new job)
    if part.status is not PartStatus.PENDING:
        return _settle_course(course.course_id, worker_id, deps) or "part_duplicate"
    return None


def _ensure_job(message: CoursePartMessage, request: ContentRequest, lane: Lane, deps: CourseWorkerDeps) -> float:
    """The part's job record, so its attempts, history and cost show at GET /v1/jobs/{id} like any job's; when it
    was created."""
    jobs = deps.content.jobs
    if (existing := jobs.get_job(message.job_id)) is not None:
        return existing.created_at
    now = deps.content.clock.now()
    jobs.put_job(
        Job(
            job_id=message.job_id,
            key=message.key,
            kind=request.kind,
            status=JobStatus.QUEUED,
            request=message.request,
            lane=lane,
            priority=message.priority,
            created_at=now,
            updated_at=now,
            correlation_id=message.correlation_id,
        )
    )
    return now


def _wait(message: CoursePartMessage, lane: Lane, worker_id: str, deps: CourseWorkerDeps, why: str) -> Outcome:
    if message.waits >= deps.policy.course_max_waits:
        return _fail_part(message, f"gave up after {message.waits} waits: {why}", worker_id, deps)
    _put_back(message, lane, deps)
    return "part_waiting"


def _finish(
    message: CoursePartMessage, stored: StoredContent, *, reused: bool, worker_id: str, deps: CourseWorkerDeps
) -> Outcome:
    now = deps.content.clock.now()
    try:
        deps.courses.finish_part(
            message.course_id,
            message.part_id,
            status=PartStatus.DONE,
            now=now,
            body=stored.body,
            meta=_figures_of(stored),
            reused=reused,
        )
    except CourseGone:
        return "course_gone"
    return _settle_course(message.course_id, worker_id, deps) or "part_done"


def _fail_part(message: CoursePartMessage, reason: str, worker_id: str, deps: CourseWorkerDeps) -> Outcome:
    logger.warning("course part failed", course_id=message.course_id, part_id=message.part_id, reason=reason)
    try:
        deps.courses.finish_part(
            message.course_id, message.part_id, status=PartStatus.FAILED, now=deps.content.clock.now(), reason=reason
        )
    except CourseGone:
        return "course_gone"
    return _settle_course(message.course_id, worker_id, deps) or "part_failed"


# -- parts through Message Batches (a background course) ------------------------------------------------------------


def batchable_part(message: CoursePartMessage, deps: CourseWorkerDeps) -> JobMessage | None:
    """A background course's pending part as a content job for a Message Batch, its job record written (so it
    shows at GET /v1/jobs/{id} like any job); None when it is not one to batch: asked directly (its batch fell
    back), finished, of a course no longer generating, or malformed (the part handler says why). Content already
    cached is left to the handler too (``submit_background`` skips a course's part it finds stored)."""
    if message.direct or _pending_part_of(message, deps) is None:
        return None
    try:
        request = ContentRequest.model_validate(message.request, context=STORED)
    except ValueError:
        return None
    _ensure_job(message, request, Lane.BACKGROUND, deps)
    return JobMessage(
        job_id=message.job_id,
        key=message.key,
        request=message.request,
        priority=message.priority,
        correlation_id=message.correlation_id,
        requested_by=message.owner,
        course_id=message.course_id,
        part_id=message.part_id,
    )


def _pending_part_of(message: CoursePartMessage, deps: CourseWorkerDeps) -> PartRecord | None:
    course = deps.courses.get(message.course_id)
    if course is None or course.status is not CourseStatus.GENERATING:
        return None
    part = deps.courses.get_part(message.course_id, message.part_id)
    if part is None or part.job_id != message.job_id or part.status is not PartStatus.PENDING:
        return None
    return part


def settle_batched_part(job: JobMessage, settled: str, deps: CourseWorkerDeps) -> None:
    """After collection settled a course part's batched job: "stored" ─▶ the part done with the batch's figures
    (billed at the batch price) and the course assembled after its last part; anything else (fell back,
    superseded, erased), or an assembly another worker holds ─▶ the part message again, direct, on the background
    lane: its handler finds the content cached or generates it, and makes sure the course is settled."""
    part = CoursePartMessage(
        course_id=job.course_id or "",
        owner=job.requested_by or "",
        part_id=job.part_id or "",
        job_id=job.job_id,
        key=job.key,
        request=job.request,
        priority=job.priority,
        correlation_id=job.correlation_id,
        direct=True,
    )
    collector = f"batch:{job.job_id}"
    if settled == "stored":
        stored = deps.content.store.get_content(job.key, deps.content.clock.now(), consistent=True)
        if stored is not None:
            try:
                _finish(part, stored, reused=False, worker_id=collector, deps=deps)
                return
            except AssemblyPending:
                pass
    deps.content.queue.send(Lane.BACKGROUND, part.wire())


# -- assembly --------------------------------------------------------------------------------------------------------


def _settle_course(course_id: str, worker_id: str, deps: CourseWorkerDeps) -> Outcome | None:
    """When every part is finished: failed if any failed, else assembled by the one worker holding the lease.
    None while parts are still under way."""
    course = deps.courses.get(course_id)
    if course is None or course.status is not CourseStatus.GENERATING:
        return None
    if course.parts_done + course.parts_failed < course.parts_total:
        return None
    now = deps.content.clock.now()
    if course.parts_failed:
        if deps.courses.fail(course_id, now):
            _count(deps, Metric.COURSES_FAILED)
            logger.warning("course failed", course_id=course_id, parts_failed=course.parts_failed)
        return "course_failed"
    if not deps.courses.lease_assembly(course_id, worker_id, now, deps.policy.course_assembly_lease_seconds):
        raise AssemblyPending(f"course {course_id} is being assembled by another worker")
    return assemble_course(course, worker_id, deps)


def assemble_course(course: CourseRecord, worker_id: str, deps: CourseWorkerDeps) -> Outcome:
    """Run the course-level checks on the parts (the alignment judgement's among them) and make the course ready,
    with its figures (the judgement's cost included). A background course's judgements not cached go to a Message
    Batch: the course is ready with the check "judging" until they are in (``settle_alignment``)."""
    parts = deps.courses.read_parts(course.course_id, bodies=True)
    outline = CourseOutline.model_validate(course.outline or {})
    bodies = {part.part_id: part.body or {} for part in parts if part.status is PartStatus.DONE}
    batched = deps.batch_judgements and Priority.lane(course.priority) is Lane.BACKGROUND
    alignment = judge_course(
        course, parts, deps.content, deps.judge, enabled=deps.policy.course_alignment_judge, batched=batched
    )
    validation = validate_course(course.request, outline, bodies, alignment.check if alignment else None)
    record = {
        "score": validation.score,
        "checks": [check.record() for check in validation.checks],
        "minutes_by_module": validation.minutes_by_module,
        "minutes_total": validation.minutes_total,
    }
    figures = _figures(course, parts, alignment.judgements if alignment else None)
    pending = alignment.pending if alignment else []
    for part_id, judged in (alignment.judged if pending and alignment else {}).items():
        deps.courses.put_judgement(course.course_id, part_id, judged, course.expires_at)  # kept for the last result
    judging = sorted([*(alignment.judged if alignment else {}), *(p for p, _, _ in pending)]) if pending else None
    now = deps.content.clock.now()
    published = deps.courses.publish(
        course.course_id, validation=record, figures=figures, worker_id=worker_id, now=now, judging=judging
    )
    if not published:
        return "assembling"
    for part_id, questions, objectives in pending:
        judgement = JudgementMessage(
            course_id=course.course_id,
            owner=course.owner,
            part_id=part_id,
            questions=questions,
            objectives=objectives,
            priority=course.priority,
        )
        deps.content.queue.send(Lane.BACKGROUND, judgement.wire())
    took_ms = (now - course.created_at) * 1000
    _count(
        deps,
        Metric.COURSES_READY,
        {name(Metric.COURSE_READY_MS_SUM): round(took_ms), course_ready_le(course_ready_bucket(took_ms)): 1},
    )
    logger.info(
        "course ready",
        course_id=course.course_id,
        score=validation.score,
        generated=figures["generated"],
        reused=figures["reused"],
        judging=len(pending),
        took_ms=round(took_ms),
    )
    return "course_ready"


def _figures(course: CourseRecord, parts: list[PartRecord], judgements: list[dict[str, Any]] | None) -> dict[str, Any]:
    outline = CourseOutline.model_validate(course.outline or {})
    by_design = {part.part_id for part in plan_parts(course.request, outline) if part.from_library}
    return course_figures(course.plan, parts, by_design, judgements)


# -- a background course's alignment judgements (Message Batches) ----------------------------------------------------


def settle_batched_judgement(message: JudgementMessage, generation: Generation, deps: CourseWorkerDeps) -> str:
    """A judgement's Message Batch result: kept as a direct one is (cached, counted) and with the course, the check
    settled after the last ("stored"); "invalid" (it falls back to a direct judgement); "superseded" (the course
    is gone, or this judgement was kept already)."""
    course = deps.courses.get(message.course_id)
    if course is None or not course.judging or message.part_id not in course.judging:
        return "superseded"
    judged = keep_batched(message.part_id, message.questions, message.objectives, generation, deps.content)
    if judged is None:
        return "invalid"
    if not deps.courses.put_judgement(message.course_id, message.part_id, judged.record(), course.expires_at):
        return "superseded"
    settle_alignment(message.course_id, deps)
    return "stored"


def judge_directly(message: JudgementMessage, deps: CourseWorkerDeps) -> Outcome:
    """A judgement whose Message Batch result failed: one direct judgement (its cache first), or not judged with
    the reason, as the direct path's failure; the check settled after the last."""
    if deps.judge is None:
        return not_judged(message, "this deployment's generator has no judge", deps)
    judge = deps.judge
    return _keep_judged(
        message, lambda: judge_one(message.part_id, message.questions, message.objectives, judge, deps.content), deps
    )


def not_judged(message: JudgementMessage, reason: str, deps: CourseWorkerDeps) -> Outcome:
    """The judgement is kept as not judged, with the reason (no judge, or its delivery failed for good)."""
    return _keep_judged(message, lambda: Judged(message.part_id, message.questions, None, error=reason), deps)


def _keep_judged(message: JudgementMessage, judged_of: Callable[[], Judged], deps: CourseWorkerDeps) -> Outcome:
    course = deps.courses.get(message.course_id)
    if course is None or not course.judging or message.part_id not in course.judging:
        return "judgement_gone"
    deps.courses.put_judgement(message.course_id, message.part_id, judged_of().record(), course.expires_at)
    settle_alignment(message.course_id, deps)
    return "judged"


def settle_alignment(course_id: str, deps: CourseWorkerDeps) -> bool:
    """Once every judgement of a ready course is in: its ``objectives_aligned`` check and figures as the direct
    path would have stored them (exactly one caller stores them). False while some are still out."""
    course = deps.courses.get(course_id)
    if course is None or not course.judging:
        return False
    results = deps.courses.read_judgements(course_id)
    if any(part_id not in results for part_id in course.judging):
        return False
    alignment = alignment_of([Judged.from_record(part_id, results[part_id]) for part_id in course.judging])
    validation = with_alignment(course.validation or {}, alignment.check)
    figures = _figures(course, deps.courses.read_parts(course_id), alignment.judgements)
    settled = deps.courses.settle_alignment(course_id, validation=validation, figures=figures)
    if settled:
        logger.info("course alignment judged", course_id=course_id, detail=alignment.check.detail)
    return settled


def _count(
    deps: CourseWorkerDeps, metric: Metric, extra: dict[str, int | float] | None = None, *, dimension: str = ""
) -> None:
    now = deps.content.clock.now()
    deps.content.counters.add(day_of(now), {name(metric, *filter(None, [dimension])): 1, **(extra or {})}, now)
