"""Erasure that stays erased: a tombstone per erased learner, checked by every path that writes their data.

::

    DELETE /v1/me ─▶ tombstone {requested_at, passes 0, erasing} ─▶ pass 1 ─▶ pass 2 ─▶ {passes 2, done}
    a write of the learner's (a batch result, a cost item, a course plan, an exam section or assembly) ─▶
        ``refuses(learner, started_at)``: one GetItem; refused when a tombstone exists and the work began before the
        erasure was asked for (or when it began is not known), so a late write cannot bring the learner back, while
        a learner who comes back after their erasure starts afresh.

The tombstone outlives anything of theirs that can still arrive: a message in a dead-letter queue (14 days, and a
redrive), a Message Batch's result (24 h) and a lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.observability import logger

if TYPE_CHECKING:
    from pregen.domain.records import ErasureStatus
    from pregen.ports import Erasures

TOMBSTONE_DAYS = 21  # dead-letter retention (14 d) + a batch's results (24 h) + the lease, with a week's margin


def tombstone_expiry(requested_at: float) -> float:
    return requested_at + TOMBSTONE_DAYS * 86_400


def refuses(erasures: Erasures | None, learner: str | None, started_at: float | None, *, what: str) -> bool:
    """True when ``learner``'s data was erased after the work that would write ``what`` began (``started_at``;
    None: not known, so any live tombstone refuses). One GetItem; no learner or no tombstone store: False."""
    if erasures is None or not learner:
        return False
    tombstone = erasures.get(learner)
    if tombstone is None:
        return False
    if started_at is not None and started_at > tombstone.requested_at:
        return False  # the learner came back after the erasure: new work is theirs to keep
    logger.info("write refused: the learner's data was erased", what=what, erasure_requested_at=tombstone.requested_at)
    return True


def status_of(erasures: Erasures, learner: str) -> ErasureStatus | None:
    return erasures.get(learner)
