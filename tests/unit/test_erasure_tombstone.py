"""The tombstone's rule (``pregen.services.erasures.refuses``): a write of an erased learner's is refused when its
work began before the erasure was asked for, or when that is not known; a learner who came back afterwards keeps
their new work; nobody else is touched."""

from __future__ import annotations

from pregen.domain.records import ErasureStatus
from pregen.services.erasures import TOMBSTONE_DAYS, refuses, tombstone_expiry

ASKED = 1_000_000.0


class Tombstones:
    def __init__(self, **erased: float) -> None:
        self.erased = erased
        self.reads = 0

    def get(self, sub: str) -> ErasureStatus | None:
        self.reads += 1
        at = self.erased.get(sub)
        return None if at is None else ErasureStatus(at, 2, "done", at + 300, tombstone_expiry(at))


def test_work_begun_before_the_erasure_is_refused_and_work_begun_after_is_kept() -> None:
    stones = Tombstones(alice=ASKED)
    assert refuses(stones, "alice", ASKED - 60, what="cost item")  # type: ignore[arg-type]
    assert refuses(stones, "alice", ASKED, what="cost item")  # type: ignore[arg-type]  # the same instant
    assert refuses(stones, "alice", None, what="batch result")  # type: ignore[arg-type]  # not known: refused
    assert not refuses(stones, "alice", ASKED + 1, what="course plan")  # type: ignore[arg-type]  # came back
    assert stones.reads == 4  # one read per write path


def test_other_learners_and_shared_work_are_never_refused() -> None:
    stones = Tombstones(alice=ASKED)
    assert not refuses(stones, "bob", ASKED - 60, what="cost item")  # type: ignore[arg-type]
    assert not refuses(stones, None, None, what="cost item")  # type: ignore[arg-type]
    assert not refuses(None, "alice", None, what="cost item")
    assert stones.reads == 1  # no learner: no read


def test_the_tombstone_outlives_a_dead_lettered_message_and_a_batch() -> None:
    dlq_retention_s, batch_s = 14 * 86_400, 24 * 3_600
    assert tombstone_expiry(ASKED) - ASKED == TOMBSTONE_DAYS * 86_400 > dlq_retention_s + batch_s
