"""In-memory adapters with the same conditions as the DynamoDB ones (pregen.adapters), for the workload simulator.

Why: a simulated week of 1,000 learners makes a few hundred thousand DynamoDB requests, and moto answers one in
~10 ms on these shared machines, i.e. most of an hour. The simulator keeps the real services (serve_content,
enqueue_or_join, pregenerate, generate_job, warm, record_navigation) and swaps only the adapters; each method here
mirrors the condition expression of its DynamoDB twin (named in its docstring), and
tests/integration/test_port_contracts.py holds both to the same contract. ``simulate.py --backend moto`` runs the
same simulation through the real adapters against moto, for a small --learners, to check they agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pregen.adapters.counters import GAUGES_PK
from pregen.domain.errors import LeaseHeld
from pregen.domain.limits import Charge, Consumed
from pregen.domain.models import Job, JobStatus, Lane
from pregen.domain.near import BUCKET_READ_LIMIT, IndexEntry, Verdict
from pregen.domain.prediction import TransitionCounts
from pregen.domain.records import BatchClaim, FinishWritten, InflightClaim, KeyClaim, StoredContent

if TYPE_CHECKING:
    from pregen.domain.records import FinishedGeneration
    from pregen.ports import Clock


@dataclass
class MemoryContentStore:
    clock: Clock
    content: dict[str, StoredContent] = field(default_factory=dict)
    inflight: dict[str, dict[str, Any]] = field(default_factory=dict)

    def get_content(self, key: str, now: float, *, consistent: bool = False) -> StoredContent | None:
        stored = self.content.get(key)
        return stored if stored is not None and stored.expires_at > now else None

    def put_content(self, content: StoredContent) -> None:
        self.content[content.key] = content

    def _live(self, key: str, now: float) -> dict[str, Any] | None:
        marker = self.inflight.get(key)
        return marker if marker is not None and marker["expires_at"] >= now else None

    def get_inflight(self, key: str, now: float) -> InflightClaim | None:
        marker = self._live(key, now)
        return None if marker is None else _someones(marker)

    def claim_inflight(self, key: str, job_id: str, lane: Lane, now: float, hold_seconds: int) -> InflightClaim:
        """``attribute_not_exists(pk) OR expires_at < :now``."""
        marker = self.inflight.get(key)
        if marker is not None and not marker["expires_at"] < now:
            return _someones(marker)
        self.inflight[key] = _queued(job_id, lane, now, hold_seconds)
        return InflightClaim(won=True, job_id=job_id, lane=lane.value, claimed_at=now)

    def promote_inflight(self, key: str, job_id: str, lane: Lane) -> bool:
        """``job_id = :job AND lane <> :lane AND state = queued``."""
        marker = self.inflight.get(key)
        if marker and marker["job_id"] == job_id and marker["lane"] != lane.value and marker["state"] == "queued":
            marker["lane"] = lane.value
            return True
        return False

    def take_over_inflight(
        self, key: str, stale_job_id: str, job_id: str, lane: Lane, *, now: float, hold_seconds: int
    ) -> bool:
        marker = self.inflight.get(key)
        if marker and marker["job_id"] == stale_job_id and marker["state"] == "queued":
            self.inflight[key] = _queued(job_id, lane, now, hold_seconds)
            return True
        return False

    def hold_inflight(self, key: str, job_id: str, until: float) -> bool:
        """``job_id = :job AND state = queued``: keep a queued key in flight until ``until``."""
        marker = self.inflight.get(key)
        if marker and marker["job_id"] == job_id and marker["state"] == "queued":
            marker["expires_at"] = until
            return True
        return False

    def release_inflight(self, key: str, job_id: str) -> None:
        marker = self.inflight.get(key)
        if marker and marker["job_id"] == job_id:
            del self.inflight[key]

    def acquire_lease(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, unless_cached: bool = False
    ) -> bool:
        """``attribute_not_exists OR state = queued OR lease_until < now OR lease_owner = w OR expires_at < now``;
        ``unless_cached``: with the content's check (``attribute_not_exists OR expires_at <= now``) first."""
        if unless_cached and self.get_content(key, now) is not None:
            return False
        marker = self.inflight.get(key)
        free = (
            marker is None
            or marker["state"] == "queued"
            or marker.get("lease_until", 0) < now
            or marker.get("lease_owner") == worker_id
            or marker["expires_at"] < now
        )
        if not free:
            holder = marker.get("lease_owner") if marker else "?"
            raise LeaseHeld(
                f"key {key} is being generated by {holder}", until=marker.get("lease_until") if marker else None
            )
        base = marker or {"job_id": job_id, "lane": Lane.INTERACTIVE.value}
        base.update(
            state="generating", lease_owner=worker_id, lease_until=now + lease_seconds, expires_at=now + lease_seconds
        )
        self.inflight[key] = base
        return True

    def end_lease(self, key: str, worker_id: str) -> None:
        marker = self.inflight.get(key)
        if marker and marker.get("lease_owner") == worker_id:
            del self.inflight[key]

    def requeue_lease(self, key: str, worker_id: str) -> None:
        marker = self.inflight.get(key)
        if marker and marker.get("lease_owner") == worker_id:
            marker["state"] = "queued"


@dataclass
class MemoryKeyClaims:
    """``pregen.adapters.claims.DynamoKeyClaims``: the marker and the job, both or neither (with the alias's check
    and the folded charge: ``near`` holds the aliases; the charges are counted here, as the counters item would)."""

    content: MemoryContentStore
    jobs: MemoryJobStore
    near: MemoryNearStore | None = None
    used: dict[tuple[str, str], int] = field(default_factory=dict)  # (subject, "<window>#<start>") -> microdollars

    def claim(
        self,
        job: Job,
        now: float,
        hold_seconds: int,
        *,
        unless_cached: bool,
        alias: bool = False,
        charge: Charge | None = None,
    ) -> KeyClaim:
        """``ConditionCheck content: attribute_not_exists OR expires_at <= now`` (``unless_cached``),
        ``ConditionCheck alias`` (``alias``: its target when live), ``Put marker: attribute_not_exists OR
        expires_at < now`` (its old item when that fails), ``Put job``, ``Update`` the charge's windows (each must
        have room; the counts as they stood when one has none)."""
        if unless_cached and self.content.get_content(job.key, now) is not None:
            return KeyClaim(won=False, cached=True)
        target = self.near.get_alias(job.key, now) if alias and self.near is not None else None
        if target is not None:
            return KeyClaim(won=False, alias=target)
        marker = self.content.inflight.get(job.key)
        if marker is not None and not marker["expires_at"] < now:
            return KeyClaim(won=False, held=_someones(marker))
        if charge is not None:
            slots = {
                name: (charge.subject, f"{name}#{int(now) // seconds * seconds}") for name, seconds, _ in charge.windows
            }
            used = {name: self.used.get(slot, 0) for name, slot in slots.items()}
            full = next((name for name, _, allowed in charge.windows if used[name] + charge.cost > allowed), None)
            if full is not None:
                return KeyClaim(won=False, refused=Consumed(refused=full, used=used))
            for name, slot in slots.items():
                self.used[slot] = used[name] + charge.cost
        self.content.inflight[job.key] = _queued(job.job_id, job.lane, now, hold_seconds)
        self.jobs.put_job(job)
        return KeyClaim(won=True)


@dataclass
class MemoryJobStore:
    jobs: dict[str, Job] = field(default_factory=dict)
    # job id -> (owner, until, batch id): ``batch_claim``, ``batch_claim_until`` and ``batch_id`` of the table
    batch_claims: dict[str, tuple[str, float, str | None]] = field(default_factory=dict)

    def claim_for_batch(self, job_id: str, owner: str, now: float, until: float) -> BatchClaim:
        """``DynamoJobStore.claim_for_batch``'s condition: queued or failed, no batch id, no live claim."""
        job = self.jobs.get(job_id)
        if job is None:
            return BatchClaim(won=False)
        held = self.batch_claims.get(job_id)
        if job.status not in (JobStatus.QUEUED, JobStatus.FAILED) or (
            held is not None and (held[2] is not None or not held[1] < now)
        ):
            return BatchClaim(
                won=False, job=job, batch_id=held[2] if held else None, held_until=held[1] if held else None
            )
        self.batch_claims[job_id] = (owner, until, None)
        return BatchClaim(won=True)

    def release_batch_claim(self, job_id: str, owner: str) -> None:
        held = self.batch_claims.get(job_id)
        if held is not None and held[0] == owner and held[2] is None:
            del self.batch_claims[job_id]

    def record_batch(self, job_id: str, batch_id: str, now: float, *, reason: str, hold_until: float) -> None:
        job = self.jobs.get(job_id)
        if job is None or job.status is JobStatus.DONE:
            return
        owner = self.batch_claims.get(job_id, ("", 0.0, None))[0]
        self.batch_claims[job_id] = (owner, hold_until, batch_id)
        self.jobs[job_id] = job.model_copy(
            update={"status": JobStatus.QUEUED, "reason": reason[:1000], "updated_at": now, "batch_id": batch_id}
        )

    def put_job(self, job: Job) -> None:
        self.jobs[job.job_id] = job

    def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def delete_job(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def set_status(
        self,
        job_id: str,
        status: JobStatus,
        now: float,
        *,
        reason: str | None = None,
        attempts: int | None = None,
        meta: dict[str, Any] | None = None,
        next_attempt_at: float | None = None,
        attempt: tuple[dict[str, Any], int] | None = None,
    ) -> None:
        """A job that is done stays done (``status <> done`` unless setting done)."""
        job = self.jobs.get(job_id)
        if job is None or (job.status is JobStatus.DONE and status is not JobStatus.DONE):
            return
        update: dict[str, Any] = {"status": status, "updated_at": now}
        if reason is not None:
            update["reason"] = reason[:1000]
        if attempts is not None:
            update["attempts"] = attempts
        if next_attempt_at is not None:
            update["next_attempt_at"] = next_attempt_at
        if attempt is not None:
            entry, calls = attempt
            update |= {"model_calls": job.model_calls + calls, "history": [*job.history, entry]}
            update.setdefault("next_attempt_at", None)
        self.jobs[job_id] = job.model_copy(update=update)

    def record_attempt(
        self, job_id: str, attempt: dict[str, Any], *, calls: int, now: float, next_attempt_at: float | None = None
    ) -> int:
        job = self.jobs.get(job_id)
        if job is None:
            return 0
        update = {
            "model_calls": job.model_calls + calls,
            "history": [*job.history, attempt],
            "updated_at": now,
            "next_attempt_at": next_attempt_at,
        }
        self.jobs[job_id] = job.model_copy(update=update)
        return job.model_calls + calls


@dataclass
class MemoryCounters:
    """Small counter items by (partition, item), as DynamoCounters keeps them: ``day#<day>`` / ``totals``,
    ``learner#<sub>`` / ``day#<day>`` and ``gauges`` / ``totals``."""

    items: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)

    def _add(self, pk: str, counts: dict[str, int | float], sk: str = "totals") -> None:
        if not counts:
            return
        totals = self.items.setdefault((pk, sk), {})
        for name, value in counts.items():
            totals[name] = totals.get(name, 0) + value

    def add(self, day: str, counts: dict[str, int | float], now: float) -> None:
        self._add(f"day#{day}", counts)

    def add_learner(self, sub: str, day: str, counts: dict[str, int | float], now: float) -> None:
        self._add(f"learner#{sub}", counts, f"day#{day}")

    def add_gauges(self, counts: dict[str, int | float], now: float) -> None:
        self._add(GAUGES_PK, counts)

    def add_once(
        self, batch_id: str, per_day: dict[str, dict[str, int | float]], now: float, *, keep_days: int = 7
    ) -> bool:
        """The marker ``batch#<id>`` must not exist: a batch delivered again adds nothing."""
        if batch_id in self.applied:
            return False
        if any(per_day.values()):
            self.applied.add(batch_id)
        for day, counts in per_day.items():
            self._add(f"day#{day}", counts)
        return True

    def read_items(self, pks: list[str]) -> dict[str, dict[str, float]]:
        return {pk: dict(self.items[(pk, "totals")]) for pk in pks if (pk, "totals") in self.items}

    def read_days(self, days: list[str]) -> dict[str, dict[str, float]]:
        found = self.read_items([f"day#{d}" for d in days])
        return {pk.removeprefix("day#"): counts for pk, counts in found.items()}

    def read_gauges(self) -> dict[str, float]:
        return self.read_items([GAUGES_PK]).get(GAUGES_PK, {})


@dataclass
class MemoryTransitionStore:
    items: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, scope: str, visit: str | None, reached: list[tuple[str, str]], now: float) -> None:
        item = self.items.setdefault(scope, {})
        for name in ([f"visits#{visit}"] if visit else []) + [f"reached#{o}#{t}" for o, t in reached]:
            item[name] = item.get(name, 0) + 1

    def read(self, scope: str) -> dict[str, TransitionCounts]:
        item = self.items.get(scope, {})
        visits = {k.split("#")[1]: v for k, v in item.items() if k.startswith("visits#")}
        reached: dict[str, dict[str, int]] = {}
        for name, value in item.items():
            if name.startswith("reached#"):
                _, origin, target = name.split("#")
                reached.setdefault(origin, {})[target] = value
        return {
            o: TransitionCounts(visits=visits.get(o, 0), reached=reached.get(o, {})) for o in set(visits) | set(reached)
        }


def _someones(marker: dict[str, Any]) -> InflightClaim:
    """A live marker as someone else's claim, as the DynamoDB adapter reads it."""
    return InflightClaim(
        won=False,
        job_id=marker["job_id"],
        lane=marker["lane"],
        state=marker.get("state", "queued"),
        claimed_at=marker.get("claimed_at"),
        expires_at=marker.get("expires_at"),
    )


def _queued(job_id: str, lane: Lane, now: float, hold_seconds: int) -> dict[str, Any]:
    """A fresh in-flight marker, as claim_inflight and take_over_inflight write it."""
    until = now + hold_seconds
    return {"state": "queued", "job_id": job_id, "lane": lane.value, "claimed_at": now, "expires_at": until}


@dataclass
class MemoryNearStore:
    """Near-duplicates' aliases, candidate index and judgements (``pregen.adapters.near.DynamoNearStore``)."""

    aliases: dict[str, tuple[str, float]] = field(default_factory=dict)
    index: dict[str, dict[str, tuple[IndexEntry, float]]] = field(default_factory=dict)
    verdicts: dict[tuple[str, str], Verdict] = field(default_factory=dict)

    def get_alias(self, key: str, now: float) -> str | None:
        """Past its ``expires_at``: none."""
        found = self.aliases.get(key)
        return found[0] if found is not None and found[1] > now else None

    def put_alias(self, key: str, target: str, why: str, now: float, expires_at: float) -> None:
        self.aliases[key] = (target, expires_at)

    def delete_alias(self, key: str) -> bool:
        """``attribute_exists(pk)``."""
        return self.aliases.pop(key, None) is not None

    def add_entry(self, bucket: str, entry: IndexEntry, expires_at: float) -> None:
        self.index.setdefault(bucket, {})[entry.key] = (entry, expires_at)

    def entries(self, bucket: str, now: float) -> list[IndexEntry]:
        live = [entry for entry, until in self.index.get(bucket, {}).values() if until > now]
        return live[:BUCKET_READ_LIMIT]

    def get_verdict(self, key: str, candidate: str) -> Verdict | None:
        return self.verdicts.get((key, candidate))

    def put_verdict(self, key: str, candidate: str, verdict: Verdict, now: float, expires_at: float) -> None:
        self.verdicts[(key, candidate)] = verdict


class MemoryGenerationWrites:
    """``GenerationWrites`` on the in-memory ports: each write its port's own, in order (one thread, nothing to
    cancel). What the DynamoDB adapter makes one transaction of, a simulator counting this port counts as one."""

    def __init__(self, store: MemoryContentStore, jobs: MemoryJobStore, counters: MemoryCounters) -> None:
        self.store, self.jobs, self.counters = store, jobs, counters

    def lease(
        self,
        key: str,
        job_id: str,
        worker_id: str,
        now: float,
        lease_seconds: int,
        *,
        unless_cached: bool,
        attempts: int,
    ) -> bool:
        if not self.store.acquire_lease(key, job_id, worker_id, now, lease_seconds, unless_cached=unless_cached):
            return False
        self.jobs.set_status(job_id, JobStatus.GENERATING, now, attempts=attempts)
        job = self.jobs.jobs.get(job_id)
        if job is not None and job.status is JobStatus.GENERATING:
            self.jobs.jobs[job_id] = job.model_copy(update={"leases": job.leases + 1})
        return True

    def lease_fresh(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, attempts: int
    ) -> bool:
        job = self.jobs.get_job(job_id)
        if job is None or job.status is not JobStatus.QUEUED or job.model_calls:
            return False
        try:
            return self.lease(key, job_id, worker_id, now, lease_seconds, unless_cached=True, attempts=attempts)
        except LeaseHeld:
            return False

    def finish(self, done: FinishedGeneration) -> FinishWritten:
        if done.content is not None:
            self.store.put_content(done.content)
        self.jobs.set_status(done.job_id, JobStatus.DONE, done.finished, meta=done.meta, attempt=done.attempt)
        self.store.end_lease(done.key, done.worker_id)
        for day, counts in done.day_counts.items():
            self.counters.add(day, counts, done.finished)
        if done.learner and done.learner_counts:  # no erasure store here: nothing to refuse it
            self.counters.add_learner(done.learner, done.day, done.learner_counts, done.finished)
        return FinishWritten()
