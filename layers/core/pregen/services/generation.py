"""Generating one job: lease the key, call the generator, validate, store with TTL and figures, finish the job."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from pregen import telemetry
from pregen.domain.counters import Metric, name
from pregen.domain.errors import (
    KeyUnavailable,
    LeaseHeld,
    PregenError,
    ProviderThrottled,
    SpendingError,
)
from pregen.domain.models import STORED, ContentRequest, Generation, JobStatus, Lane, Priority
from pregen.domain.records import FinishedGeneration, StoredContent
from pregen.domain.schemas import validate_content
from pregen.observability import logger
from pregen.parallel import side_by_side
from pregen.services.failures import (
    Described,
    Failure,
    RecordedBefore,
    count_spend,
    describe,
    is_permanent,
    settle_failure,
)
from pregen.services.lifecycle import HandBack
from pregen.services.publishing import library_figures, publish_version, version_figures, version_of
from pregen.services.usage import day_of, expiry_counts, generation_extras, latency_dimension

if TYPE_CHECKING:
    from pregen.config.worker import GenerationPolicy
    from pregen.domain.models import Job
    from pregen.messages import JobMessage
    from pregen.ports import (
        Clock,
        ContentStore,
        Counters,
        Erasures,
        GenerationWrites,
        Generator,
        JobQueue,
        JobStore,
        LibraryStore,
    )
    from pregen.services.near import NearDeps

Outcome = Literal["generated", "already_cached", "throttled", "handed_back", "dropped_erased", "aliased"]


class RetryLater(PregenError):
    """This delivery cannot finish now (another job holds the key); SQS will deliver it again."""


class DuplicateDelivery(HandBack):
    """Another delivery of this very job holds the key's lease: this one comes back when that lease ends.

    Acknowledging it instead would leave the job to the holder alone. A holder that died (SIGKILL, a timeout) leaves
    the job ``generating``, and its own message may come back while its lease still runs (a message's visibility is
    counted from its receive, the lease from the start of its generation) and be acknowledged here too: then no
    message is left to finish the job. Handed back, the copy finds the content stored (the holder finished) or the
    lease ended (it takes the key over); no receive is spent."""


@dataclass
class WorkerDeps:
    store: ContentStore
    jobs: JobStore
    counters: Counters
    generator: Generator
    clock: Clock
    queue: JobQueue  # to delay throttled jobs and hand back the ones there is no time left for
    policy: GenerationPolicy  # content TTLs, the lease, deliveries before the DLQ, throttling delays
    # A generation's lease, and its writes after the model call, each in one transaction (issue 34).
    writes: GenerationWrites
    library: LibraryStore | None = None  # versions and ranking; without it content is stored as one item
    erasures: Erasures | None = None  # tombstones: a learner's cost item is not written after their erasure
    near: NearDeps | None = None  # near-duplicates: a verified alias settles a miss without generating (issue 33)


def generate_job(
    message: JobMessage,
    *,
    receive_count: int,
    worker_id: str,
    deps: WorkerDeps,
    lane: Lane | None = None,
    max_calls: int | None = None,
) -> Outcome:
    """Generate the message's key once, however many deliveries or jobs ask for it, within the job's cap of model
    calls (``max_model_calls``, across re-asks, retries and deliveries).

    Raises on failure: the lifecycle classifies it, backs the delivery off and has ``settle_job_failure`` write
    the job's record (``services.lifecycle``). Answers still invalid after the re-asks, and a spent cap, fail the
    job for good (raised as permanent). The job records every attempt here. ``max_calls``: at most this many calls
    in this delivery (the calls its invocation's time left fits).
    """
    now = deps.clock.now()
    ready = _leased_fresh(message, worker_id, receive_count, deps, now)
    if ready is None:
        prepared = _leased_after_reading(message, worker_id, receive_count, deps, now)
        if not isinstance(prepared, tuple):
            return prepared
        ready = prepared
    request, calls_left, started_at = ready
    if max_calls is not None:
        calls_left = min(calls_left, max_calls)
    if deps.near is not None and message.regenerate_of is None and _served_by_alias(message, request, worker_id, deps):
        return "aliased"
    try:
        generation = _generate_valid(message, request, deps, max_calls=calls_left)
    except ProviderThrottled as exc:
        deps.store.requeue_lease(message.key, worker_id)
        _record_attempt(message, deps, exc, outcome="throttled")
        _throttled(message, request, exc, lane=lane, deps=deps)
        return "throttled"
    except Exception as exc:
        deps.store.requeue_lease(message.key, worker_id)
        total = _record_attempt(message, deps, exc, outcome="failed")
        if total >= deps.policy.max_model_calls and not is_permanent(exc):
            spent = f"{describe(exc)} (the job's {deps.policy.max_model_calls} model calls are spent)"
            raise Described(spent, category=type(exc).__name__, permanent=True, cause=exc) from exc
        raise
    attempt = (_attempt(deps.clock.now(), "generated", generation=generation), generation.attempts)
    store_generation(message, request, generation, worker_id, deps, started_at=started_at, attempt=attempt)
    return "generated"


# What a delivery knows once it holds the key: the request, the model calls it may make, when its job began.
Ready = tuple[ContentRequest, int, float | None]


def _leased_fresh(
    message: JobMessage, worker_id: str, receive_count: int, deps: WorkerDeps, now: float
) -> Ready | None:
    """A plain job as its claim wrote it (queued, no model call yet; the message says when it was created): the
    lease and the job's ``generating`` mark in one write, with no read of the job before it -- its record would
    say nothing more. None, nothing written, for anything else (a redelivery, a regeneration, a job done, failed
    or gone, the key cached or held): the way that reads the job first decides it."""
    if message.created_at is None or message.regenerate_of is not None:
        return None
    if deps.policy.max_model_calls <= 0:
        return None
    try:
        request = ContentRequest.model_validate(message.request, context=STORED)
    except ValidationError:
        return None
    lease = (message.key, message.job_id, worker_id, now, deps.policy.lease_seconds)
    if not deps.writes.lease_fresh(*lease, attempts=receive_count):
        return None
    return request, deps.policy.max_model_calls, message.created_at


def _leased_after_reading(
    message: JobMessage, worker_id: str, receive_count: int, deps: WorkerDeps, now: float
) -> Ready | Outcome:
    """Read the job, then lease the key (``_done_under_lease``): what is ready, or the delivery's outcome."""
    job = deps.jobs.get_job(message.job_id)  # the key's content: checked by the lease's own write
    if job is None and message.owner:
        # A personal job's record lives as long as its message can (JOB_TTL_DAYS): gone means its learner's data was
        # erased (DELETE /v1/me). Generating it would bring their data back.
        logger.info("personal job without its record: the learner's data was erased; dropped")
        return "dropped_erased"
    _refuse_failed_for_good(job)
    request = _request_of(message)
    if _already_done(job):
        return "already_cached"
    calls_left = deps.policy.max_model_calls - (_calls_spent(job) if job else 0)
    if calls_left <= 0:
        _cap_spent(deps)
    if _done_under_lease(message, job, worker_id, deps, now, receive_count=receive_count):
        return "already_cached"
    return request, calls_left, job.created_at if job else None


def _calls_spent(job: Job) -> int:
    """The job's model calls as recorded, and one for each delivery that took its lease and never settled (killed,
    or timed out, before it recorded what it spent: ``Job.leases`` against its history's entries). At least one: it
    took the lease to call the model; perhaps more, which the next deliveries cannot know."""
    return job.model_calls + max(0, job.leases - len(job.history))


def _served_by_alias(message: JobMessage, request: ContentRequest, worker_id: str, deps: WorkerDeps) -> bool:
    """Look for a published item that serves this wording (``pregen.services.near``); the judgements are charged
    to this job (its history). True: an alias now serves the key, the job is done and the key's marker cleared."""
    from pregen.services.near import find_alias

    assert deps.near is not None
    now = deps.clock.now()
    try:
        found = find_alias(request, message.key, deps.near, now)
    except Exception:  # the library's search is an optimisation: when it cannot run, the miss generates
        logger.exception("near-duplicate search failed: generating", job_id=message.job_id, key=message.key)
        return False
    if found.paid:
        entry: dict[str, Any] = {
            "at": round(now, 3),
            "outcome": "judged",
            "reason": found.why[:300],
            "model": found.paid[-1].model,
            "calls": sum(v.calls for v in found.paid),
            "cost_usd": round(sum(v.cost_usd for v in found.paid), 8),
        }
        deps.jobs.record_attempt(message.job_id, entry, calls=entry["calls"], now=now)
    if found.target is None:
        return False
    meta = {"alias_of": found.target, "why": found.why[:300]}
    side_by_side(
        lambda: deps.jobs.set_status(
            message.job_id, JobStatus.DONE, now, reason=f"served by {found.target}", meta=meta
        ),
        lambda: deps.store.end_lease(message.key, worker_id),
    )
    logger.info("served by a verified alias", job_id=message.job_id, key=message.key, target=found.target)
    return True


def _attempt(
    at: float,
    outcome: str,
    *,
    generation: Generation | None = None,
    exc: Exception | None = None,
) -> dict[str, Any]:
    """One entry of a job's history: when, what came of it, why, on which model, with what calls, tokens, cost."""
    entry: dict[str, Any] = {"at": round(at, 3), "outcome": outcome}
    if generation is not None:
        usage = generation.usage
        entry |= {
            "model": generation.model,
            "calls": generation.attempts,
            "tokens": usage.input_tokens
            + usage.output_tokens
            + usage.cache_creation_input_tokens
            + usage.cache_read_input_tokens,
            "cost_usd": round(generation.cost_usd, 8),
        }
    if exc is not None:
        entry |= {"reason": describe(exc)[:300], "calls": _calls_of(exc)}
        if isinstance(exc, SpendingError):
            entry |= {"tokens": exc.spent_tokens, "cost_usd": round(exc.spent_usd, 8)}
    return entry


def _calls_of(exc: Exception) -> int:
    """The model calls a failed generation made: what the generator reports, else one (it was asked). A throttle
    that outlived the SDK's retries made none that count (pregen.adapters.generators.claude.UsageRecorder), nor did
    a key that could not be read."""
    if isinstance(exc, SpendingError):
        return exc.calls if exc.calls or isinstance(exc, ProviderThrottled | KeyUnavailable) else 1
    return 1


def _record_attempt(message: JobMessage, deps: WorkerDeps, exc: Exception, *, outcome: str) -> int:
    now = deps.clock.now()
    return deps.jobs.record_attempt(message.job_id, _attempt(now, outcome, exc=exc), calls=_calls_of(exc), now=now)


def _cap_spent(deps: WorkerDeps) -> None:
    """No model calls left for this job: it fails for good, without another call."""
    reason = f"the job's {deps.policy.max_model_calls} model calls are spent"
    raise Described(reason, category="CallCap", permanent=True)


def _refuse_failed_for_good(job: Job | None) -> None:
    """A job failed permanently goes straight on to the DLQ: no more model calls for it, nothing more written."""
    if job is not None and job.status is JobStatus.FAILED and job.reason and job.reason.startswith("permanent:"):
        raise RecordedBefore(job.reason)


def _request_of(message: JobMessage) -> ContentRequest:
    """The job's request; one that does not validate fails the job for good (no retry can fix it)."""
    try:
        return ContentRequest.model_validate(message.request, context=STORED)
    except ValidationError as exc:
        reason = f"the job's request is invalid: {exc.error_count()} errors"
        raise Described(reason, category="InvalidRequest", permanent=True, cause=exc) from exc


def _acquire_lease(
    message: JobMessage, job: Job | None, worker_id: str, deps: WorkerDeps, now: float, *, receive_count: int
) -> bool:
    """Lease the key for this delivery; for a plain job only while the key has no content (False: it has, nothing
    written). The job (when there is one) is marked ``generating`` in the same write.
    Raises ``DuplicateDelivery`` when another delivery of this very job is generating it (handed back until its
    lease ends), ``RetryLater`` when another job holds the key."""
    lease = (message.key, message.job_id, worker_id, now, deps.policy.lease_seconds)
    unless_cached = message.regenerate_of is None
    try:
        if job is not None:
            return deps.writes.lease(*lease, unless_cached=unless_cached, attempts=receive_count)
        return deps.store.acquire_lease(*lease, unless_cached=unless_cached)
    except LeaseHeld as held:
        if job is not None and job.job_id == message.job_id and job.status is JobStatus.GENERATING:
            raise DuplicateDelivery(
                "duplicate delivery: another delivery of this job holds its key's lease",
                after_s=_until_lease_ends(held.until, now, deps.policy.lease_seconds),
            ) from None
        raise RetryLater(f"key {message.key} is being generated by another job") from None


def _until_lease_ends(until: float | None, now: float, lease_seconds: int) -> int:
    """Seconds until a held lease ends (a whole lease when not known), at least 1, at most SQS's 15 minutes."""
    left = until - now if until is not None else lease_seconds
    return max(1, min(900, math.ceil(left) + 1))


def _generate_valid(message: JobMessage, request: ContentRequest, deps: WorkerDeps, *, max_calls: int) -> Generation:
    """Call the generator (with the library's feedback for a regeneration) and check the answer against the
    request's schema."""
    generation = deps.generator.generate(request, feedback=message.feedback or None, max_calls=max_calls)
    validate_content(request, generation.body)
    return generation


def _throttled(
    message: JobMessage, request: ContentRequest, exc: ProviderThrottled, *, lane: Lane | None, deps: WorkerDeps
) -> None:
    """The provider kept throttling: delay the job, or, out of delayed retries, fail this delivery (a retryable
    failure the lifecycle backs off, at least the provider's retry-after; its spend is counted with it)."""
    if defer_throttled(message, exc, lane or Priority.lane(message.priority), deps):
        count_spend(deps.counters, exc, request.kind.value, deps.clock.now())
        return
    raise Described(_throttle_reason(message), category="Throttled", permanent=False, cause=exc) from exc


def shown_reason(exc: Exception, failure: Failure) -> str:
    """The reason a failed job (or its course part) shows: a permanent one says so (``_refuse_failed_for_good``
    reads it); one recorded before as it was."""
    if failure.permanent and not isinstance(exc, RecordedBefore):
        return f"permanent: {failure.reason}"
    return failure.reason


def settle_job_failure(
    message: JobMessage, exc: Exception, failure: Failure, deps: WorkerDeps, next_attempt_at: float | None
) -> None:
    """A content job's record of a failed delivery (the lifecycle decided the failure and its backoff): failed for
    good with the reason and its key freed, or queued to retry at ``next_attempt_at``; what it was billed counts
    as cost and as wasted cost. A job failed for good before has nothing more to write."""
    if isinstance(exc, RecordedBefore):
        return
    now = deps.clock.now()
    _settle(message, replace(failure, reason=shown_reason(exc, failure)), deps, now, next_attempt_at=next_attempt_at)
    count_spend(deps.counters, exc, str(message.request.get("kind", "unknown")), now)


def generation_meta(generation: Generation) -> dict[str, Any]:
    """The figures stored with any generation (content, version or exam section): who made it, usage, cost, time."""
    return {
        "generator": generation.generator,
        "model": generation.model,
        "usage": generation.usage.model_dump(),
        "cost_usd": round(generation.cost_usd, 8),
        "latency_ms": generation.latency_ms,
        **({"batch": True} if generation.batch else {}),  # billed at the Message Batches price
    }


def store_generation(
    message: JobMessage,
    request: ContentRequest,
    generation: Generation,
    worker_id: str,
    deps: WorkerDeps,
    *,
    started_at: float | None = None,
    attempt: tuple[dict[str, Any], int] | None = None,
) -> None:
    """Store a generation like any other (direct or from a Message Batch): content with TTL and figures (a new
    library version where the library is on), the job done, the lease ended, and the day's counters. ``started_at``:
    when its job was created (None: not known), against which a learner's erasure is checked; ``attempt``: the
    job's history entry and model calls, recorded in the write that marks it done."""
    content = validate_content(request, generation.body)
    finished = deps.clock.now()
    meta = {
        **generation_meta(generation),
        "attempts": generation.attempts,
        "job_id": message.job_id,
        "correlation_id": message.correlation_id,
        **library_figures(request, content, message.key),
    }
    expires_at = finished + deps.policy.ttl_days(request.kind) * 86_400
    stored = StoredContent(
        key=message.key,
        kind=request.kind.value,
        body=generation.body,
        meta=meta,
        owner=message.owner,
        created_at=finished,
        expires_at=expires_at,
    )
    figures = _counter_figures(message, request, generation, finished=finished, expires_at=expires_at)
    _finish_together(
        message, request, stored, figures, worker_id=worker_id, deps=deps, started_at=started_at, attempt=attempt
    )
    _report(request, generation, message)


def _publish(
    stored: StoredContent, request: ContentRequest, message: JobMessage, library: LibraryStore, deps: WorkerDeps
) -> None:
    """A new library version of the content, written on its own (``publishing.publish_version``)."""
    publish_version(
        stored,
        request,
        regenerate_of=message.regenerate_of,
        library=library,
        store=deps.store,
        figures=version_figures(stored.meta),
    )


def throttle_delay(retries: int, base_s: int, retry_after: float | None) -> int:
    """Exponential backoff (base, 2 x base, ...), at least the provider's retry-after, at most SQS's 15 minutes."""
    delay = max(base_s * 2**retries, int(retry_after or 0))
    return int(min(900, delay))


def defer_throttled(message: JobMessage, exc: ProviderThrottled, lane: Lane, deps: WorkerDeps) -> bool:
    """Send the job again with a delay and let this delivery succeed, so throttling never burns receive counts.

    ::

        delivery 1 ──429 after SDK retries──▶ re-send {throttle_retries: 1} DelaySeconds 30 ─▶ ack delivery 1
        delivery 1' (new message, receive count 1) ──429──▶ re-send {2} DelaySeconds 60 ─▶ ack ...
        ... after max_throttle_retries: an ordinary retryable failure (receive count, then the DLQ with a reason)

    False when it is out of throttle retries: the caller fails the delivery instead.
    """
    if message.throttle_retries >= deps.policy.max_throttle_retries:
        return False
    delay = throttle_delay(message.throttle_retries, deps.policy.throttle_base_delay_s, exc.retry_after)
    again = message.model_copy(update={"throttle_retries": message.throttle_retries + 1})
    deps.queue.send(lane, again.wire(), delay_seconds=delay)
    now = deps.clock.now()
    # Keep the key in flight past the delay, so misses meanwhile join this job instead of starting another.
    deps.store.hold_inflight(message.key, message.job_id, now + delay + deps.policy.lease_seconds)
    deps.jobs.set_status(
        message.job_id, JobStatus.QUEUED, now, reason=f"provider throttled ({exc}); retrying in {delay} s"
    )
    deps.counters.add(day_of(now), {name(Metric.THROTTLED, str(message.request.get("kind", "unknown"))): 1}, now)
    logger.warning("provider throttled: delayed", job_id=message.job_id, delay_s=delay, retry=again.throttle_retries)
    return True


def _throttle_reason(message: JobMessage) -> str:
    return f"provider still throttling after {message.throttle_retries} delayed retries (the cap)"


def _already_done(job: Job | None) -> bool:
    """A job that says it is done (a redelivery: stored or settled by an alias). A regeneration (its key has content
    by definition) is done only so; a plain job also once its key has content: its lease checks that
    (``_done_under_lease``)."""
    return job is not None and job.status is JobStatus.DONE


def _done_under_lease(
    message: JobMessage, job: Job | None, worker_id: str, deps: WorkerDeps, now: float, *, receive_count: int
) -> bool:
    """Lease the key, unless the work is done: a plain job's lease checks the key's content in the same write
    (another delivery stored it: a duplicate running alongside, or a later one; generating again would store it
    twice), a regeneration's job is read again under the lease."""
    if not _acquire_lease(message, job, worker_id, deps, now, receive_count=receive_count):
        deps.jobs.set_status(message.job_id, JobStatus.DONE, now)
        return True
    if message.regenerate_of is not None and _already_done(deps.jobs.get_job(message.job_id)):
        deps.store.end_lease(message.key, worker_id)
        return True
    return False


def _settle(
    message: JobMessage, failure: Failure, deps: WorkerDeps, now: float, *, next_attempt_at: float | None = None
) -> None:
    """Record why an attempt failed. On the last delivery the job is failed for good and the key freed."""

    def fail_for_good() -> None:
        deps.jobs.set_status(message.job_id, JobStatus.FAILED, now, reason=failure.reason)
        deps.store.release_inflight(message.key, message.job_id)

    def retry_later() -> None:
        deps.jobs.set_status(
            message.job_id,
            JobStatus.QUEUED,
            now,
            reason=f"retrying after: {failure.reason}",
            next_attempt_at=next_attempt_at,
        )

    settle_failure(
        failure,
        "generation failed",
        counters=deps.counters,
        now=now,
        failed_counter=name(Metric.FAILED, failure.category),
        fail_for_good=fail_for_good,
        retry_later=retry_later,
        job_id=message.job_id,
        key=message.key,
    )


@dataclass(frozen=True)
class CounterFigures:
    """What a generation adds to the counters: per day (its own day's and its expiry day's, one item when they are
    the same day), and to its learner's cost item of its day (the owner, or the learner who asked; None: no one)."""

    day: str
    days: dict[str, dict[str, int | float]]
    learner: str | None
    learner_counts: dict[str, int | float]


def _counter_figures(
    message: JobMessage, request: ContentRequest, generation: Generation, *, finished: float, expires_at: float
) -> CounterFigures:
    kind = request.kind.value
    usage = generation.usage
    day = day_of(finished)
    days: dict[str, dict[str, int | float]] = {
        day: {
            name(Metric.GENERATED, kind): 1,
            name(Metric.GENERATED_BY, generation.generator): 1,
            name(Metric.COST_USD, kind): generation.cost_usd,
            name(Metric.TOKENS_IN, kind): usage.input_tokens,
            name(Metric.TOKENS_OUT, kind): usage.output_tokens,
            name(Metric.TOKENS_CACHE_WRITE, kind): usage.cache_creation_input_tokens,
            name(Metric.TOKENS_CACHE_READ, kind): usage.cache_read_input_tokens,
            name(Metric.LATENCY_MS_SUM, latency_dimension(kind, batch=generation.batch)): generation.latency_ms,
            **generation_extras(
                kind,
                generation.model,
                generation.latency_ms,
                generation.cost_usd,
                usage.input_tokens + usage.output_tokens,
                batch=generation.batch,
            ),
        }
    }
    expiry = days.setdefault(day_of(expires_at), {})
    for counter, value in expiry_counts(kind, expires_at).items():
        expiry[counter] = expiry.get(counter, 0) + value
    learner = message.owner or message.requested_by
    learner_counts: dict[str, int | float] = {name(Metric.COST_USD): generation.cost_usd, name(Metric.GENERATED): 1}
    return CounterFigures(day, days, learner, learner_counts if learner else {})


def _finish_together(
    message: JobMessage,
    request: ContentRequest,
    stored: StoredContent,
    figures: CounterFigures,
    *,
    worker_id: str,
    deps: WorkerDeps,
    started_at: float | None,
    attempt: tuple[dict[str, Any], int] | None,
) -> None:
    """Everything after the model call in one transaction (``GenerationWrites``). A regeneration's version is
    published first, as before (it waits beside the served one and the ranking decides: reads and a conditional
    promotion); the rest goes together."""
    content: StoredContent | None = stored
    version = None
    if deps.library is not None and message.regenerate_of is not None:
        _publish(stored, request, message, deps.library, deps)
        content = None
    elif deps.library is not None:
        version = version_of(stored, request, figures=version_figures(stored.meta))
    near = None
    if deps.near is not None and message.owner is None:
        from pregen.services.near import index_entry

        near = index_entry(request, message.key)
    written = deps.writes.finish(
        FinishedGeneration(
            key=message.key,
            job_id=message.job_id,
            worker_id=worker_id,
            finished=stored.created_at,
            day=figures.day,
            meta=stored.meta,
            attempt=attempt,
            content=content,
            version=version,
            near=(*near, stored.expires_at) if near else None,
            day_counts=figures.days,
            learner=figures.learner,
            learner_counts=figures.learner_counts,
            started_at=started_at,
        )
    )
    if written.refused:
        logger.info("write refused: the learner's data was erased", what="cost item", personal=bool(message.owner))
    if written.conflicts:
        telemetry.emit("GenerationWriteConflicts", written.conflicts)
    if written.counters_apart:
        telemetry.emit("GenerationCountersApart", 1)
        logger.warning("counters written apart after conflicts", job_id=message.job_id, conflicts=written.conflicts)


def _report(request: ContentRequest, generation: Generation, message: JobMessage) -> None:
    """A generation's metrics and its one log line (in the invocation's own thread: Powertools' state)."""
    kind = request.kind.value
    usage = generation.usage
    telemetry.generation_figures(
        kind,
        latency_ms=generation.latency_ms,
        cost_usd=generation.cost_usd,
        output_tokens=usage.output_tokens,
        input_tokens=usage.input_tokens,
    )
    logger.info(
        "content generated",
        job_id=message.job_id,
        key=message.key,
        correlation_id=message.correlation_id,
        kind=kind,
        model=generation.model,
        latency_ms=generation.latency_ms,
        cost_usd=round(generation.cost_usd, 8),
    )
