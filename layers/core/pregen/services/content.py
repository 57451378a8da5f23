"""Serving and enqueueing: a hit is served from the cache, a miss becomes a job (or joins the one in flight)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pregen.domain.errors import Conflict, NotFound
from pregen.domain.keys import cache_key, new_job_id
from pregen.domain.models import Caller, ContentRequest, Job, JobRef, JobStatus, Lane, Priority, Scope
from pregen.parallel import each
from pregen.services.limits import check_daily_ceiling, check_generation_allowance
from pregen.usage_log import record_hit, record_miss

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.records import InflightClaim, StoredContent
    from pregen.messages import JobMessage
    from pregen.ports import Clock, ContentStore, Counters, JobQueue, JobStore, NearStore
    from pregen.services.limits import GenerationLimiter

# Claims of one key per enqueue: a claim lost to a marker whose job is gone takes the key over, and a takeover lost
# to another request looks again (it then nearly always joins). Past this, the caller is told to try again.
_CLAIM_ATTEMPTS = 5
# A marker claimed longer ago than the job record's lifetime less this is checked against the job record.
_TTL_MARGIN_SECONDS = 3_600


@dataclass
class ServeDeps:
    """The ports the serving use cases need; the function's app.py builds them once per container."""

    store: ContentStore
    jobs: JobStore
    queue: JobQueue
    counters: Counters
    clock: Clock
    inflight_seconds: int = 3600
    retry_after_seconds: int = 3
    job_ttl_seconds: int = 86_400  # how long a job record is kept (JOB_TTL_DAYS; at least a day)
    limiter: GenerationLimiter | None = None  # generation allowances per role; None: unlimited
    # A pre-generation batch's keys read and enqueued side by side (pregen.parallel.each); False: one after
    # another, in order (in-memory adapters, whose simulations replay the same way every run).
    keys_side_by_side: bool = False
    near: NearStore | None = None  # verified aliases of near-duplicate wordings (pregen.services.near); None: off


@dataclass(frozen=True)
class Hit:
    key: str
    content: StoredContent


@dataclass(frozen=True)
class Pending:
    key: str
    job: Job | JobRef  # a joined miss: the job as the key's marker names it
    joined: bool


@dataclass(frozen=True)
class Enqueued:
    """The outcome of one pre-generation request: why it was or was not enqueued."""

    key: str
    status: Literal["queued", "in_flight", "cached"]
    job_id: str | None = None


@dataclass
class JobView:
    job: Job
    content: StoredContent | None = field(default=None)


def owner_for(request: ContentRequest, caller: Caller) -> str | None:
    return caller.sub if request.scope is Scope.PERSONAL else None


def serve_content(
    request: ContentRequest, caller: Caller, deps: ServeDeps, *, correlation_id: str | None = None
) -> Hit | Pending:
    """One read of the content. A hit is counted by one line of log (``pregen.usage_log``), not by a request;
    a miss enqueues or joins, and is counted by a line of log too (its day counter is added later, in batches)."""
    key = cache_key(request, caller)
    now = deps.clock.now()
    stored = deps.store.get_content(key, now)
    if stored is not None:
        record_hit(key, now, request.kind.value)
        return Hit(key=key, content=stored)
    if deps.near is not None:  # one more read, only now: a verified alias of this wording (issue 33)
        from pregen.services.near import read_alias

        alias = read_alias(request, key, deps.near, deps.store, now)
        if alias is not None:
            record_hit(alias.target, now, request.kind.value, alias=key)
            return Hit(key=alias.target, content=alias.content)
    # Only after the read: a hit never pays for the limiter; nor does a miss that joins a job in flight. A new job
    # is charged its price before anything is written or enqueued.
    job, joined = enqueue_or_join(
        request,
        caller,
        Priority.DEFAULT,
        deps,
        correlation_id=correlation_id,
        charge=lambda: check_generation_allowance(caller, "miss", deps, lambda price: price.content(request)),
    )
    if job is None:  # generated a moment ago
        return serve_content(request, caller, deps, correlation_id=correlation_id)
    record_miss(key, request.kind.value, now)
    return Pending(key=key, job=job, joined=joined)


def enqueue_or_join(
    request: ContentRequest,
    caller: Caller,
    priority: int,
    deps: ServeDeps,
    *,
    correlation_id: str | None = None,
    regenerate_of: str | None = None,
    feedback: str | None = None,
    charge: Callable[[], None] | None = None,
) -> tuple[Job | JobRef | None, bool]:
    """Put the key in flight and enqueue its job, or return the job already in flight for it; ``None`` when the
    content turned up meanwhile (the caller serves it).

    ``charge`` runs once, when no job is in flight for the key, before the new job is written: it may refuse
    (RateLimited) with nothing written. A concurrent miss that claims the key first makes this caller join a job
    they paid for: a rare over-charge, never free work.

    The job record is written *before* the key is claimed, so an in-flight marker always names a job that
    exists: a concurrent miss that loses the claim can always join. A live marker is read first, so joining
    (the common case in a stampede) costs that one read: the marker names the job, its status and lane (``_join``).

    Joining a background job from the interactive lane also sends the job to the interactive lane: whichever
    delivery takes the worker's lease first generates it, the other finds the content and finishes at once.
    """
    key = cache_key(request, caller)
    lane = Priority.lane(priority)
    for _ in range(_CLAIM_ATTEMPTS):
        now = deps.clock.now()
        marker = deps.store.get_inflight(key, now)
        joined = _join(marker, key, lane, deps, now, correlation_id=correlation_id) if marker else None
        if joined is not None:
            return joined, True
        if charge is not None:
            charge()
            charge = None
        job = _new_job(
            request,
            caller,
            key,
            priority,
            now,
            correlation_id=correlation_id,
            regenerate_of=regenerate_of,
            feedback=feedback,
        )
        claim = _claim(job, deps, now, correlation_id=correlation_id)
        if claim.won:
            return _enqueue(job, caller, deps, now, correlation_id=correlation_id), False
        if claim.joined is not None:
            return claim.joined, True
        # Another request took the key over first: look again.
    raise Conflict(f"the key {key} kept changing hands while it was being enqueued; try again")


def _new_job(
    request: ContentRequest,
    caller: Caller,
    key: str,
    priority: int,
    now: float,
    *,
    correlation_id: str | None,
    regenerate_of: str | None,
    feedback: str | None,
) -> Job:
    return Job(
        job_id=new_job_id(),
        key=key,
        kind=request.kind,
        status=JobStatus.QUEUED,
        request=request.canonical(),
        owner=owner_for(request, caller),
        lane=Priority.lane(priority),
        priority=priority,
        created_at=now,
        updated_at=now,
        correlation_id=correlation_id,
        regenerate_of=regenerate_of,  # a library regeneration: a new version of a key that has content
        feedback=feedback,
    )


@dataclass(frozen=True)
class _Claim:
    won: bool
    joined: Job | JobRef | None = None  # lost: the job in flight for the key (None: the key changed hands, look again)


def _claim(job: Job, deps: ServeDeps, now: float, *, correlation_id: str | None) -> _Claim:
    """Write the job, then claim its key. A lost claim joins the marker's job, or takes the key over when that job
    no longer exists (its record expired)."""
    lane = job.lane
    deps.jobs.put_job(job)
    claim = deps.store.claim_inflight(job.key, job.job_id, lane, now, deps.inflight_seconds)
    if claim.won:
        return _Claim(won=True)
    deps.jobs.delete_job(job.job_id)  # never handed out: nobody will ask for it
    joined = _join(claim, job.key, lane, deps, now, correlation_id=correlation_id)
    if joined is not None:
        return _Claim(won=False, joined=joined)
    if not deps.store.take_over_inflight(
        job.key, claim.job_id, job.job_id, lane, now=now, hold_seconds=deps.inflight_seconds
    ):
        return _Claim(won=False)
    deps.jobs.put_job(job)
    return _Claim(won=True)


def _enqueue(job: Job, caller: Caller, deps: ServeDeps, now: float, *, correlation_id: str | None) -> Job | None:
    """Send the claimed job to its lane; None (and the job finished) when its content turned up meanwhile."""
    if job.regenerate_of is None and deps.store.get_content(job.key, now, consistent=True) is not None:
        # Generated (and its marker cleared) between the caller's cache read and our claim: nothing to do. The
        # job is finished rather than deleted: between our claim and now another request may have joined it.
        deps.jobs.set_status(job.job_id, JobStatus.DONE, now)
        deps.store.release_inflight(job.key, job.job_id)
        return None
    try:
        deps.queue.send(job.lane, _message(job, correlation_id, requested_by=caller.sub).wire())
    except Exception:
        # Never leave a key marked in flight with no message that will ever finish it.
        deps.store.release_inflight(job.key, job.job_id)
        deps.jobs.set_status(job.job_id, JobStatus.FAILED, deps.clock.now(), reason="could not enqueue the job")
        raise
    return job


def _join(
    marker: InflightClaim, key: str, lane: Lane, deps: ServeDeps, now: float, *, correlation_id: str | None
) -> Job | JobRef | None:
    """The job in flight for the key (None: its record is gone), sent to the interactive lane too if this request
    needs it sooner.

    The marker answers by itself when its job cannot be gone: it was claimed less than the job record's lifetime
    ago (the record is written before the claim, and only TTL removes it), and no promotion needs the job's
    request. Its status is the marker's: ``queued``, or ``generating`` once a worker holds the lease. Otherwise the
    job is read, as for a marker written before ``claimed_at`` was recorded."""
    promote = lane is Lane.INTERACTIVE and marker.lane != lane.value
    fresh = marker.claimed_at is not None and now - marker.claimed_at < deps.job_ttl_seconds - _TTL_MARGIN_SECONDS
    if fresh and not promote and marker.state in {JobStatus.QUEUED, JobStatus.GENERATING}:
        return JobRef(job_id=marker.job_id, key=key, status=JobStatus(marker.state))
    existing = deps.jobs.get_job(marker.job_id)
    if existing is None:
        return None
    if promote and deps.store.promote_inflight(key, marker.job_id, lane):
        deps.queue.send(lane, _message(existing, correlation_id).wire())
    return existing


def _message(job: Job, correlation_id: str | None, *, requested_by: str | None = None) -> JobMessage:
    from pregen.messages import JobMessage  # here: a miss needs it, a hit (get-content's common path) does not

    return JobMessage(
        job_id=job.job_id,
        key=job.key,
        request=job.request,
        owner=job.owner,
        priority=job.priority,
        correlation_id=correlation_id or job.correlation_id or job.job_id,
        regenerate_of=job.regenerate_of or None,
        feedback=job.feedback if job.regenerate_of else None,
        requested_by=requested_by,
    )


def pregenerate(
    requests: list[ContentRequest],
    priority: int,
    caller: Caller,
    deps: ServeDeps,
    *,
    correlation_id: str | None = None,
    charge_to: Caller | Literal["caller"] | None = "caller",
    action: str = "pregenerate",
) -> list[Enqueued]:
    """Enqueue many requests; keys already cached or in flight are not enqueued again.

    The keys that will generate are charged, before any is enqueued, to ``charge_to``: the caller by default; a
    learner on whose behalf Pregen's own identity enqueues (a login's warm, a navigation's preloads); or nobody
    (``None``: the operator's scheduled warming, bounded by its configuration and the daily ceiling)."""
    now = deps.clock.now()
    keys = [cache_key(request, caller) for request in requests]
    unique: dict[str, ContentRequest] = {}
    for key, request in zip(keys, requests, strict=True):
        unique.setdefault(key, request)  # the same key twice in one batch: one job
    found = each(lambda key: deps.store.get_content(key, now), list(unique), at_once=deps.keys_side_by_side)
    seen = {key: Enqueued(key=key, status="cached") for key, stored in zip(unique, found, strict=True) if stored}
    misses = {key: request for key, request in unique.items() if key not in seen}
    # The whole batch is allowed or refused at once: a 429 never leaves half a batch enqueued. Keys in flight are
    # joined, not generated: only the others are charged (one more read each, side by side).
    payer = caller if charge_to == "caller" else charge_to
    if payer is not None and misses:
        markers = each(lambda key: deps.store.get_inflight(key, now), list(misses), at_once=deps.keys_side_by_side)
        new = [request for request, marker in zip(misses.values(), markers, strict=True) if marker is None]
        check_generation_allowance(payer, action, deps, lambda price: price.contents(new))
    elif misses:  # the operator's own warming: charged to nobody, still under the daily ceiling
        check_daily_ceiling(action, deps, lambda price: price.contents(list(misses.values())))

    def enqueue(key: str) -> Enqueued:
        job, joined = enqueue_or_join(misses[key], caller, priority, deps, correlation_id=correlation_id)
        if job is None:  # generated a moment ago
            return Enqueued(key=key, status="cached")
        return Enqueued(key=key, status="in_flight" if joined else "queued", job_id=job.job_id)

    seen.update(zip(misses, each(enqueue, list(misses), at_once=deps.keys_side_by_side), strict=True))
    return [seen[key] for key in keys]


def job_status(job_id: str, caller: Caller, deps: ServeDeps) -> JobView:
    """A job and, once done, its content. Another learner's personal job is reported as not found."""
    job = deps.jobs.get_job(job_id)
    if job is None or not job.visible_to(caller):
        raise NotFound(f"no job {job_id}")
    view = JobView(job=job)
    if job.status is JobStatus.DONE:
        now = deps.clock.now()
        view.content = deps.store.get_content(job.key, now, consistent=True)
        target = deps.near.get_alias(job.key, now) if view.content is None and deps.near is not None else None
        if target is not None:  # settled by a verified alias (pregen.services.near): the content it points at
            view.content = deps.store.get_content(target, now, consistent=True)
    return view
