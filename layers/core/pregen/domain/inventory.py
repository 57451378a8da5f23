"""Exam inventory domain: a learner's exam slots per exam type, their states, and the ports that keep them.

A slot's life (every arrow is a conditional write; ``expires_at`` is the table's TTL and is checked in code)::

    replenish ──▶ generating ──(all sections stored, one worker assembles, blueprint checks pass)──▶ ready
                      │                                                                              │
                      └──(a section fails for good, or the exam fails its checks)──▶ failed (24 h)   │
                                                                          claim (atomic) ──▶ claimed (1 day)
    ready expires after 7 days; a generating slot that never finishes stops counting after its hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pregen.domain.models import Generation, Lane
    from pregen.domain.programs import SectionSpec


class ExamStatus(StrEnum):
    GENERATING = "generating"
    READY = "ready"
    CLAIMED = "claimed"
    FAILED = "failed"


@dataclass(frozen=True)
class ExamSlot:
    """One exam in a learner's inventory (small: the body lives in its own item)."""

    exam_id: str
    owner: str
    exam_type: str
    program: str
    status: ExamStatus
    lane: str
    sections_total: int
    sections_done: int
    created_at: float
    updated_at: float
    expires_at: float
    claimed_at: float | None = None
    reason: str | None = None

    def live(self, now: float) -> bool:
        """Past its expiry a slot counts for nothing, whether or not TTL has deleted it yet."""
        return self.expires_at > now


@dataclass(frozen=True)
class ExamRecord:
    """An assembled exam: the compressed body and who owns it."""

    exam_id: str
    owner: str
    exam_type: str
    program: str
    status: ExamStatus
    body: dict[str, Any]
    meta: dict[str, Any]
    created_at: float
    expires_at: float
    claimed_at: float | None = None


@dataclass(frozen=True)
class ActivityPage:
    learners: list[tuple[str, list[str]]]
    next_key: dict[str, Any] | None = field(default=None)


class SlotGone(Exception):
    """The slot a section belongs to is no longer generating (failed, expired or already assembled)."""


class ExamInventory(Protocol):
    def list_slots(self, owner: str, exam_type: str) -> tuple[int, list[ExamSlot]]: ...

    def create_slots(self, owner: str, exam_type: str, version: int, slots: list[ExamSlot]) -> bool: ...

    def get_slot(self, owner: str, exam_type: str, exam_id: str) -> ExamSlot | None: ...

    def fail_slot(
        self, owner: str, exam_type: str, exam_id: str, *, reason: str, now: float, expires_at: float
    ) -> bool: ...

    def promote_slot(self, owner: str, exam_type: str, exam_id: str, lane: Lane) -> bool: ...

    def claim(self, slot: ExamSlot, now: float, expires_at: float) -> bool: ...

    def get_exam(self, exam_id: str) -> ExamRecord | None: ...

    def has_section(self, exam_id: str, index: int) -> bool: ...

    def put_section(self, slot: ExamSlot, index: int, body: dict[str, Any], meta: dict[str, Any]) -> bool: ...

    def read_sections(self, exam_id: str) -> list[dict[str, Any]]: ...

    def lease_assembly(self, slot: ExamSlot, worker_id: str, now: float, seconds: int) -> bool: ...

    def publish(
        self,
        slot: ExamSlot,
        body: dict[str, Any],
        meta: dict[str, Any],
        *,
        worker_id: str,
        now: float,
        expires_at: float,
    ) -> bool: ...


class ActivityIndex(Protocol):
    def record(self, sub: str, exam_types: list[str], day: str, now: float, expires_at: float) -> None: ...

    def shards(self) -> int: ...

    def page(self, day: str, shard: int, start: dict[str, Any] | None, limit: int) -> ActivityPage: ...


class SectionGenerator(Protocol):
    name: str

    def generate_section(self, spec: SectionSpec) -> Generation: ...


class RunState(Protocol):
    def get(self, task: str) -> dict[str, Any] | None: ...

    def save(self, task: str, state: dict[str, Any], version: int, now: float) -> bool: ...
