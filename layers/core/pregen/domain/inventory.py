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
from typing import Any


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
