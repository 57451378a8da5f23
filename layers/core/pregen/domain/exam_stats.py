"""A learner's exam figures, and the counters that make the inventory's analytics exact without a scan.

Each learner has one small record (generated, claimed, expired, and the expiry of each ready exam) that changes in
the same transaction as the exam it describes: published, claimed or erased. The transaction also moves the
counters analytics reads:

- ``exam_expiring#HH`` on the day item of a ready exam's expiry: ready exams by the hour they expire. A ready
  exam's expiry is a whole hour (``ready_expiry``), so "ready now" (every bucket after now), "expired in the
  window" (the window's buckets up to now) and "expiring within 24 h" are exact sums of a few day items. A claim
  takes the exam out of its bucket: only exams that reach their expiry unclaimed count as expired.
- ``learners_ready_until#HH`` on the day item of the learner's last ready expiry: learners by the hour their last
  ready exam expires, so "learners holding at least one ready exam now" is the same kind of sum.
- gauges ``exams_generated``, ``exams_claimed``, ``exams_erased``, ``users_total`` (learners with at least one
  exam ever generated): standing totals, so every exam generated is, at any moment, exactly one of ready,
  claimed, expired or erased with its learner.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pregen.domain.counters import Metric, name

if TYPE_CHECKING:
    from collections.abc import Mapping

HOUR = 3600
EXAMS_GENERATED = "exams_generated"
EXAMS_CLAIMED = "exams_claimed"
EXAMS_ERASED = "exams_erased"
USERS_TOTAL = "users_total"

# day (YYYY-MM-DD) → counter → delta
DayDeltas = dict[str, dict[str, int]]


def ready_expiry(now: float, days: float) -> float:
    """A ready exam's expiry: ``days`` from now, rounded up to a whole hour (UTC), so hour buckets are exact."""
    return float(math.ceil((now + days * 86_400) / HOUR) * HOUR)


def bucket(instant: float) -> tuple[str, str]:
    """(day, hour) of a whole-hour instant."""
    moment = dt.datetime.fromtimestamp(instant, tz=dt.UTC)
    return moment.date().isoformat(), f"{moment.hour:02d}"


def instant(day: str, hour: str) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hour}:00:00+00:00").timestamp()


@dataclass(frozen=True)
class LearnerExams:
    """One learner's exams: kept in the exams table beside their inventory, one item per learner."""

    generated: int = 0
    claimed: int = 0
    expired: int = 0  # ready exams seen past their expiry when the record last changed
    ready: dict[str, float] = field(default_factory=dict)  # exam id → expiry, while unclaimed
    until: float = 0.0  # the hour bucket the learner is counted in (their last ready expiry), 0: none
    version: int = 0  # optimistic lock: every change is conditional on the version it read

    def ready_now(self, now: float) -> int:
        return sum(1 for expiry in self.ready.values() if expiry > now)

    def expired_now(self, now: float) -> int:
        return self.expired + sum(1 for expiry in self.ready.values() if expiry <= now)

    def figures(self, now: float) -> dict[str, int]:
        return {
            "generated": self.generated,
            "ready": self.ready_now(now),
            "claimed": self.claimed,
            "expired": self.expired_now(now),
        }


@dataclass
class Change:
    """What one event does: the learner's new record, the day counters and the gauges to add, atomically."""

    record: LearnerExams
    days: DayDeltas = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    gauges: dict[str, int] = field(default_factory=dict)

    def add(self, instant_: float, metric: Metric, delta: int) -> None:
        day, hour = bucket(instant_)
        self.days[day][name(metric, hour)] += delta

    def day_counts(self) -> DayDeltas:
        """Only the counters that move (a learner's bucket can stay where it was)."""
        out = {day: {k: v for k, v in counts.items() if v} for day, counts in self.days.items()}
        return {day: counts for day, counts in out.items() if counts}


def _settle(old: LearnerExams, ready: dict[str, float], now: float, change: Change, **figures: int) -> None:
    """Drop the expired from the ready map into ``expired``, and move the learner to their new bucket."""
    live = {exam_id: expiry for exam_id, expiry in ready.items() if expiry > now}
    expired = old.expired + len(ready) - len(live)
    until = max(live.values(), default=0.0)
    if until != old.until:  # (a live ``until`` is after now, so it never equals one already passed)
        if old.until > now:  # a passed bucket no longer counts the learner: nothing to take away
            change.add(old.until, Metric.LEARNERS_READY_UNTIL, -1)
        if until:
            change.add(until, Metric.LEARNERS_READY_UNTIL, +1)
    change.record = replace(old, ready=live, expired=expired, until=until, version=old.version + 1, **figures)


def published(old: LearnerExams, exam_id: str, expiry: float, now: float) -> Change:
    """An exam joined the learner's ready exams."""
    change = Change(record=old)
    change.add(expiry, Metric.EXAM_EXPIRING, +1)
    change.gauges = {EXAMS_GENERATED: 1, **({USERS_TOTAL: 1} if old.generated == 0 else {})}
    _settle(old, {**old.ready, exam_id: expiry}, now, change, generated=old.generated + 1)
    return change


def claimed(old: LearnerExams, exam_id: str, now: float) -> Change:
    """A ready exam was handed out: it leaves its expiry bucket and counts as claimed."""
    change = Change(record=old)
    expiry = old.ready.get(exam_id)
    if expiry is not None and expiry > now:
        change.add(expiry, Metric.EXAM_EXPIRING, -1)
    change.gauges = {EXAMS_CLAIMED: 1}
    _settle(old, {k: v for k, v in old.ready.items() if k != exam_id}, now, change, claimed=old.claimed + 1)
    return change


def erased(old: LearnerExams, now: float) -> Change:
    """The learner's data is erased: their ready exams leave the buckets, and they leave theirs."""
    change = Change(record=LearnerExams())
    live = {exam_id: expiry for exam_id, expiry in old.ready.items() if expiry > now}
    for expiry in live.values():
        change.add(expiry, Metric.EXAM_EXPIRING, -1)
    if old.until > now:
        change.add(old.until, Metric.LEARNERS_READY_UNTIL, -1)
    change.gauges = {EXAMS_ERASED: len(live)} if live else {}
    return change


def merge_pending(held: Mapping[str, Any] | None, more: Mapping[str, Any]) -> dict[str, Any]:
    """The counter deltas a learner's record holds (``{"days": {day: {counter: n}}, "gauges": {counter: n}}``) with
    one more change's added: a record carries the sum of every change not yet folded into the global counters, so a
    change never has to fold a previous one first. Counters that sum to 0 are dropped."""
    held = held or {}
    days: dict[str, dict[str, int]] = {}
    for source in (held.get("days", {}), more.get("days", {})):
        for day, counts in source.items():
            into = days.setdefault(day, {})
            for counter, delta in counts.items():
                into[counter] = into.get(counter, 0) + int(delta)
    gauges: dict[str, int] = {}
    for source in (held.get("gauges", {}), more.get("gauges", {})):
        for counter, delta in source.items():
            gauges[counter] = gauges.get(counter, 0) + int(delta)
    days = {day: {c: n for c, n in counts.items() if n} for day, counts in days.items()}
    days = {day: counts for day, counts in days.items() if counts}
    gauges = {c: n for c, n in gauges.items() if n}
    return {**({"days": days} if days else {}), **({"gauges": gauges} if gauges else {})}
