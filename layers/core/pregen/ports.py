"""Ports: what the use cases need from storage, the queue and the generator. Adapters implement them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pregen.models import ContentRequest, Generation, Job, JobStatus, Lane
    from pregen.prediction import TransitionCounts


@dataclass(frozen=True)
class StoredContent:
    key: str
    kind: str
    body: dict[str, Any]
    meta: dict[str, Any]
    owner: str | None
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class InflightClaim:
    """The result of trying to mark a key as in flight: we won it, or someone's job already holds it."""

    won: bool
    job_id: str
    lane: str


class ContentStore(Protocol):
    def get_content(self, key: str, now: float, *, consistent: bool = False) -> StoredContent | None: ...

    def record_hit(self, key: str, now: float, expires_at: float) -> None: ...

    def put_content(self, content: StoredContent) -> None: ...

    def get_inflight(self, key: str, now: float) -> InflightClaim | None: ...

    def claim_inflight(self, key: str, job_id: str, lane: Lane, now: float, hold_seconds: int) -> InflightClaim: ...

    def promote_inflight(self, key: str, job_id: str, lane: Lane) -> bool: ...

    def take_over_inflight(
        self, key: str, stale_job_id: str, job_id: str, lane: Lane, *, now: float, hold_seconds: int
    ) -> bool: ...

    def release_inflight(self, key: str, job_id: str) -> None: ...

    def acquire_lease(self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int) -> None: ...

    def end_lease(self, key: str, worker_id: str) -> None: ...

    def requeue_lease(self, key: str, worker_id: str) -> None: ...


class JobStore(Protocol):
    def put_job(self, job: Job) -> None: ...

    def get_job(self, job_id: str) -> Job | None: ...

    def delete_job(self, job_id: str) -> None: ...

    def set_status(
        self,
        job_id: str,
        status: JobStatus,
        now: float,
        *,
        reason: str | None = None,
        attempts: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None: ...


class Counters(Protocol):
    def add(self, day: str, counts: dict[str, int | float], now: float) -> None: ...

    def read_days(self, days: list[str]) -> dict[str, dict[str, float]]: ...


class JobQueue(Protocol):
    def send(self, lane: Lane, message: dict[str, Any]) -> None: ...

    def depth(self, urls: dict[str, str]) -> dict[str, dict[str, int]]: ...


class Generator(Protocol):
    name: str

    def generate(self, request: ContentRequest) -> Generation: ...


class TransitionStore(Protocol):
    """Navigation counts of one scope (grade and subject) on one small item, added to atomically, read in one go."""

    def record(self, scope: str, visit: str | None, reached: list[tuple[str, str]], now: float) -> None: ...

    def read(self, scope: str) -> dict[str, TransitionCounts]: ...
