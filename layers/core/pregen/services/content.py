"""Serving and enqueueing: a hit is served from the cache, a miss becomes a job (or joins the one in flight)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pregen.domain.errors import Conflict, NotFound, OverAllowance, SpendCeilingReached
from pregen.domain.keys import cache_key, new_job_id
from pregen.domain.models import Caller, ContentRequest, Job, JobRef, JobStatus, Lane, Priority, Scope
from pregen.parallel import each
from pregen.services.limits import check_daily_ceiling, check_generation_allowance, fold_charge, settle_folded
from pregen.usage_log import record_hit, record_miss

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.limits import Charge, Consumed
    from pregen.domain.records import InflightClaim, StoredContent
    from pregen.domain.spend import Estimator
    from pregen.messages import JobMessage
    from pregen.ports import Clock, ContentStore, Counters, JobQueue, JobStore, KeyClaims, NearStore
    from pregen.services.limits import GenerationLimiter
    from pregen.services.recent_markers import RecentMarkers

# Claims of one key per enqueue: a claim lost to a marker whose job is gone takes the key over, and a takeover lost
# to another request looks again (it then nearly always joins). Past this, the caller is told to try again.
_CLAIM_ATTEMPTS = 5
# SQS's most messages in one SendMessageBatch.
_SEND_BATCH = 10
# A marker claimed longer ago than the job record's lifetime less this is checked against the job record.
_TTL_MARGIN_SECONDS = 3_600


@dataclass
class ServeDeps:
    """The ports the serving use cases need; the function's app.py builds them once per container."""

    store: ContentStore
    jobs: JobStore
    claims: KeyClaims  # a miss's one write: the key's marker and its job
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
    # Markers of shared keys this environment saw a moment ago: a miss joins them without the claim's write
    # (pregen.services.recent_markers); None: off, every miss claims.
    recent: RecentMarkers | None = None


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
    a miss enqueues or joins, and is counted by a line of log too (its day counter is added later, in batches).

    A miss makes one more DynamoDB request before its message: the claim (``KeyClaims.claim``), which also checks
    the wording's near-duplicate alias (a live one cancels it and names the content to serve) and counts the
    learner's allowance (a refusal cancels it: nothing written). So a miss is enqueued after 3 requests. A miss of
    a shared key whose marker this environment saw a moment ago (``deps.recent``) joins that job after the read
    alone: 1 request, no charge, as a joined miss never pays."""
    key = cache_key(request, caller)
    now = deps.clock.now()
    stored = deps.store.get_content(key, now)
    if stored is not None:
        record_hit(key, now, request.kind.value)
        return Hit(key=key, content=stored)
    if owner_for(request, caller) is None:
        recent = _recently_joined(key, Priority.lane(Priority.DEFAULT), deps, now)
        if recent is not None:
            record_miss(key, request.kind.value, now)
            return Pending(key=key, job=recent, joined=True)

    def price(estimator: Estimator) -> int:
        return estimator.content(request)

    # Only after the read: a hit never pays for the limiter; nor does a miss that joins a job in flight (a cancelled
    # claim counts nothing). A refusal that needs no count (the daily ceiling, a price past a whole window) is
    # raised only if this miss wins the key, as the unfolded charge raises it after the claim.
    from pregen.domain.near import bucket  # here: a miss needs it, a hit (get-content's common path) does not

    try:
        folded = fold_charge(caller, "miss", deps, price)
    except (SpendCeilingReached, OverAllowance):
        folded = None
    out = _claim_and_send(
        request,
        caller,
        Priority.DEFAULT,
        deps,
        correlation_id=correlation_id,
        charge=lambda: check_generation_allowance(caller, "miss", deps, price),
        folded=folded,
        alias=deps.near is not None and bucket(request) is not None,  # personal content and exams have none
    )
    if out.alias is not None:  # a verified alias of this wording (issue 33): its target's content
        content = deps.store.get_content(out.alias, now)
        if content is not None:
            record_hit(out.alias, now, request.kind.value, alias=key)
            return Hit(key=out.alias, content=content)
        # the target is gone (expired): a plain miss of this wording
        out = _claim_and_send(
            request,
            caller,
            Priority.DEFAULT,
            deps,
            correlation_id=correlation_id,
            charge=lambda: check_generation_allowance(caller, "miss", deps, price),
            folded=folded,
        )
    if out.job is None:  # generated a moment ago
        return serve_content(request, caller, deps, correlation_id=correlation_id)
    record_miss(key, request.kind.value, now)
    return Pending(key=key, job=out.job, joined=not out.won)


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

    One conditional write claims the key and records the job (``KeyClaims.claim``: both or neither, only while no
    live marker holds the key and no live content is stored for it); a lost claim names the marker that holds it,
    so joining (the common case in a stampede) costs that write and no read (``_join``). A won claim is then
    charged (``charge``; a refusal abandons the job: the key is released, the job failed, the refusal raised), and
    its message sent. Only the request that won the key pays: a joined miss never does.

    Joining a background job from the interactive lane also sends the job to the interactive lane: whichever
    delivery takes the worker's lease first generates it, the other finds the content and finishes at once.
    """
    out = _claim_and_send(
        request,
        caller,
        priority,
        deps,
        correlation_id=correlation_id,
        regenerate_of=regenerate_of,
        feedback=feedback,
        charge=charge,
    )
    return out.job, out.job is not None and not out.won


@dataclass(frozen=True)
class _Outcome:
    job: Job | JobRef | None  # None: the content is stored, or (``alias``) the wording's alias serves it
    won: bool = False
    alias: str | None = None


def _claim_and_send(
    request: ContentRequest,
    caller: Caller,
    priority: int,
    deps: ServeDeps,
    *,
    correlation_id: str | None = None,
    regenerate_of: str | None = None,
    feedback: str | None = None,
    charge: Callable[[], None] | None = None,
    folded: Charge | None = None,
    alias: bool = False,
) -> _Outcome:
    """``enqueue_or_join``; with ``folded``, the charge is counted in the claim itself (``charge`` only when the key
    was won another way: taken over from a job that is gone), and with ``alias`` the claim also checks the
    wording's alias (a live one: nothing written, its target returned)."""
    key = cache_key(request, caller)

    def new_job(now: float) -> Job:
        return _new_job(
            request,
            caller,
            key,
            priority,
            now,
            correlation_id=correlation_id,
            regenerate_of=regenerate_of,
            feedback=feedback,
        )

    out = _claim_key(key, new_job, deps, correlation_id=correlation_id, alias=alias, charge=folded)
    if out.refused is not None and folded is not None:
        settle_folded(folded, caller, "miss", deps, out.refused)  # raises the refusal: nothing was written
    if not out.won or not isinstance(out.job, Job):
        return _Outcome(job=out.job, alias=out.alias)
    if out.charged and folded is not None:
        settle_folded(folded, caller, "miss", deps, None)
    elif charge is not None:
        _charge_or_abandon([out.job], charge, deps)
    _enqueue([out.job], caller, deps, correlation_id=correlation_id)
    return _Outcome(job=out.job, won=True)


def claim_or_join(
    key: str, new_job: Callable[[float], Job], deps: ServeDeps, *, correlation_id: str | None = None
) -> tuple[Job | JobRef | None, bool]:
    """The key claimed for a new job (``new_job(now)``; ``(job, True)``: recorded, not yet sent), or the job in
    flight for it (``(job, False)``), or ``(None, False)``: the content is stored (a regeneration never finds it so)."""
    out = _claim_key(key, new_job, deps, correlation_id=correlation_id)
    return out.job, out.won


def _claim_key(
    key: str,
    new_job: Callable[[float], Job],
    deps: ServeDeps,
    *,
    correlation_id: str | None,
    alias: bool = False,
    charge: Charge | None = None,
) -> _Claim:
    for _ in range(_CLAIM_ATTEMPTS):
        now = deps.clock.now()
        job = new_job(now)
        claim = _claim(job, deps, now, correlation_id=correlation_id, alias=alias, charge=charge)
        if claim.won or claim.cached or claim.joined is not None or claim.alias or claim.refused:
            return claim
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
    job: Job | JobRef | None = None  # won: the new job; lost: the job in flight for the key (None: look again)
    cached: bool = False  # lost: the key's content is stored
    alias: str | None = None  # lost: the wording's live alias points at this content key
    refused: Consumed | None = None  # lost: the folded charge had no room
    charged: bool = False  # won with the folded charge counted in the claim

    @property
    def joined(self) -> Job | JobRef | None:
        return None if self.won else self.job


def _claim(
    job: Job, deps: ServeDeps, now: float, *, correlation_id: str | None, alias: bool, charge: Charge | None
) -> _Claim:
    """Claim the job's key and record the job in one write. A lost claim joins the marker's job, or takes the key
    over when that job no longer exists (its record expired)."""
    lane = job.lane
    claimed = deps.claims.claim(
        job, now, deps.inflight_seconds, unless_cached=job.regenerate_of is None, alias=alias, charge=charge
    )
    if claimed.won:
        return _Claim(won=True, job=job, charged=charge is not None)
    if claimed.cached or claimed.alias is not None or claimed.refused is not None:
        return _Claim(won=False, cached=claimed.cached, alias=claimed.alias, refused=claimed.refused)
    # Lost to a marker; the write names it, unless it collided with another claim at that moment: then read it.
    marker = claimed.held or deps.store.get_inflight(job.key, now)
    if marker is None:
        return _Claim(won=False)
    joined = _join(marker, job.key, lane, deps, now, correlation_id=correlation_id)
    if isinstance(joined, JobRef) and job.owner is None and deps.recent is not None:
        deps.recent.learn(job.key, marker, now)  # answered by the marker alone: so may this environment's next miss
    if joined is not None:
        return _Claim(won=False, job=joined)
    if not deps.store.take_over_inflight(
        job.key, marker.job_id, job.job_id, lane, now=now, hold_seconds=deps.inflight_seconds
    ):
        return _Claim(won=False)
    deps.jobs.put_job(job)
    return _Claim(won=True, job=job)  # not charged: the caller charges it


def _abandon(jobs: list[Job], deps: ServeDeps, reason: str) -> None:
    """Jobs claimed but never sent: release their keys (no marker may stay with no message that will ever finish
    it) and fail them (a request that joined one meanwhile sees why)."""
    now = deps.clock.now()
    for job in jobs:
        if deps.recent is not None:
            deps.recent.forget(job.key)
        deps.store.release_inflight(job.key, job.job_id)
        deps.jobs.set_status(job.job_id, JobStatus.FAILED, now, reason=reason)


def _charge_or_abandon(jobs: list[Job], charge: Callable[[], None], deps: ServeDeps) -> None:
    """Charge for claimed jobs; a refusal (429, 422, 503) abandons them all before it is raised."""
    try:
        charge()
    except Exception as refused:
        _abandon(jobs, deps, f"not charged: {type(refused).__name__}")
        raise


def _enqueue(jobs: list[Job], caller: Caller, deps: ServeDeps, *, correlation_id: str | None) -> None:
    """Send claimed jobs to their lanes (a lane's jobs 10 to a SendMessageBatch; a lone one, SendMessage). A job
    whose message was not sent is abandoned, and the failure raised."""
    by_lane: dict[Lane, list[Job]] = {}
    for job in jobs:
        by_lane.setdefault(job.lane, []).append(job)
    sent: set[str] = set()
    unsent: list[Job] = []
    try:
        for lane, queued in by_lane.items():
            for start in range(0, len(queued), _SEND_BATCH):
                chunk = queued[start : start + _SEND_BATCH]
                messages = [_message(job, correlation_id, requested_by=caller.sub).wire() for job in chunk]
                if len(chunk) == 1:
                    deps.queue.send(lane, messages[0])
                    missed = set()
                else:
                    missed = set(deps.queue.send_batch(lane, messages))
                unsent += [job for i, job in enumerate(chunk) if i in missed]
                sent.update(job.job_id for i, job in enumerate(chunk) if i not in missed)
    except Exception:
        _abandon([job for job in jobs if job.job_id not in sent], deps, "could not enqueue the job")
        raise
    if unsent:
        _abandon(unsent, deps, "could not enqueue the job")
        raise RuntimeError(f"{len(unsent)} of {len(jobs)} jobs could not be enqueued")
    if deps.recent is not None:  # the markers this environment wrote, as a later claim of their keys would see them
        now = deps.clock.now()
        for job in jobs:
            if job.owner is None:
                deps.recent.learn(job.key, _marker_of(job, deps), now)


def _join(
    marker: InflightClaim, key: str, lane: Lane, deps: ServeDeps, now: float, *, correlation_id: str | None
) -> Job | JobRef | None:
    """The job in flight for the key (None: its record is gone), sent to the interactive lane too if this request
    needs it sooner.

    The marker answers by itself when its job cannot be gone: it was claimed less than the job record's lifetime
    ago (the record is written with the claim, and only TTL removes it), and no promotion needs the job's
    request. Its status is the marker's: ``queued``, or ``generating`` once a worker holds the lease. Otherwise the
    job is read, as for a marker written before ``claimed_at`` was recorded."""
    alone = _marker_alone(marker, key, lane, deps, now)
    if alone is not None:
        return alone
    existing = deps.jobs.get_job(marker.job_id)
    if existing is None:
        return None
    if lane is Lane.INTERACTIVE and marker.lane != lane.value and deps.store.promote_inflight(key, marker.job_id, lane):
        deps.queue.send(lane, _message(existing, correlation_id).wire())
    return existing


def _marker_alone(marker: InflightClaim, key: str, lane: Lane, deps: ServeDeps, now: float) -> JobRef | None:
    """The job a marker names, when the marker answers a join by itself (``_join``): claimed less than the job
    record's lifetime ago, ``queued`` or ``generating``, and no promotion to ``lane`` needed; otherwise None."""
    promote = lane is Lane.INTERACTIVE and marker.lane != lane.value
    fresh = marker.claimed_at is not None and now - marker.claimed_at < deps.job_ttl_seconds - _TTL_MARGIN_SECONDS
    if fresh and not promote and marker.state in {JobStatus.QUEUED, JobStatus.GENERATING}:
        return JobRef(job_id=marker.job_id, key=key, status=JobStatus(marker.state))
    return None


def _recently_joined(key: str, lane: Lane, deps: ServeDeps, now: float) -> JobRef | None:
    """A shared key's miss joined from the marker this environment saw a moment ago (``deps.recent``), when that
    marker would answer the join by itself now; None: the miss claims as usual (nothing seen, too long ago, or the
    job must be promoted to ``lane``). The caller has just read the key's content and found none."""
    marker = deps.recent.recall(key, now) if deps.recent is not None else None
    return _marker_alone(marker, key, lane, deps, now) if marker is not None else None


def _marker_of(job: Job, deps: ServeDeps) -> InflightClaim:
    """The marker a won claim wrote for ``job`` (``KeyClaims.claim``, ``take_over_inflight``)."""
    from pregen.domain.records import InflightClaim

    return InflightClaim(
        won=True,
        job_id=job.job_id,
        lane=job.lane.value,
        claimed_at=job.created_at,
        expires_at=job.created_at + deps.inflight_seconds,
    )


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
        created_at=job.created_at,
        batch_id=job.batch_id,  # a promoted job's batch: its answer may be there already
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

    def claim(key: str) -> tuple[Job | JobRef | None, bool]:
        return _claim_missed(key, misses[key], caller, priority, deps, read_at=now, correlation_id=correlation_id)

    claimed = dict(zip(misses, each(claim, list(misses), at_once=deps.keys_side_by_side), strict=True))
    won = [job for job, new in claimed.values() if new and isinstance(job, Job)]
    # The whole batch is allowed or refused at once: a refusal abandons every key this batch claimed, so a 429
    # never leaves half a batch enqueued. Keys in flight were joined, not claimed: only the claimed are charged.
    if won:
        new_requests = [misses[job.key] for job in won]
        payer = caller if charge_to == "caller" else charge_to

        def charge() -> None:
            if payer is not None:
                check_generation_allowance(payer, action, deps, lambda price: price.contents(new_requests))
            else:  # the operator's own warming: charged to nobody, still under the daily ceiling
                check_daily_ceiling(action, deps, lambda price: price.contents(new_requests))

        _charge_or_abandon(won, charge, deps)
        _enqueue(won, caller, deps, correlation_id=correlation_id)
    for key, (job, new) in claimed.items():
        if job is None:  # generated a moment ago
            seen[key] = Enqueued(key=key, status="cached")
        else:
            seen[key] = Enqueued(key=key, status="queued" if new else "in_flight", job_id=job.job_id)
    return [seen[key] for key in keys]


def _claim_missed(
    key: str,
    request: ContentRequest,
    caller: Caller,
    priority: int,
    deps: ServeDeps,
    *,
    read_at: float,
    correlation_id: str | None,
) -> tuple[Job | JobRef | None, bool]:
    """``claim_or_join`` for a key whose content was read at ``read_at`` and missed: a shared key whose marker this
    environment saw a moment ago joins it from memory, as a learner's miss does (``serve_content``)."""
    if owner_for(request, caller) is None:
        recent = _recently_joined(key, Priority.lane(priority), deps, read_at)
        if recent is not None:
            return recent, False

    def new_job(at: float) -> Job:
        return _new_job(
            request, caller, key, priority, at, correlation_id=correlation_id, regenerate_of=None, feedback=None
        )

    return claim_or_join(key, new_job, deps, correlation_id=correlation_id)


def job_status(job_id: str, caller: Caller, deps: ServeDeps) -> JobView:
    """A job and, once done, its content. Another learner's personal job is reported as not found."""
    job = deps.jobs.get_job(job_id)
    if job is None or not job.visible_to(caller):
        raise NotFound(f"no job {job_id}")
    view = JobView(job=job)
    if deps.recent is not None and job.status not in {JobStatus.QUEUED, JobStatus.GENERATING}:
        deps.recent.forget(job.key)  # over: this environment's next miss of the key claims it again
    if job.status is JobStatus.DONE:
        now = deps.clock.now()
        view.content = deps.store.get_content(job.key, now, consistent=True)
        target = deps.near.get_alias(job.key, now) if view.content is None and deps.near is not None else None
        if target is not None:  # settled by a verified alias (pregen.services.near): the content it points at
            view.content = deps.store.get_content(target, now, consistent=True)
    return view
