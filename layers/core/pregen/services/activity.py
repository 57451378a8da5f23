"""The learner activity index: who used the API on which day (and which exam types), so scheduled work can
find active learners with a few Queries instead of scanning. Any feature may call ``record_activity``."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pregen.services.usage import day_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pregen.ports import ActivityIndex

# Activity items outlive the longest window the cron reads (14 days by default, at most 60).
ACTIVITY_RETENTION_DAYS = 62


def record_activity(index: ActivityIndex, sub: str, now: float, exam_types: list[str] | None = None) -> None:
    """Mark ``sub`` active today (one small idempotent write). ``exam_types`` says which inventories to keep up."""
    index.record(sub, list(exam_types or []), day_of(now), now, now + ACTIVITY_RETENTION_DAYS * 86_400)


def window_days(now: float, days: int) -> list[str]:
    """The last ``days`` days, today first, as YYYY-MM-DD."""
    today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
    return [(today - dt.timedelta(days=i)).isoformat() for i in range(days)]


def partitions(now: float, days: int, shards: int) -> Iterator[tuple[str, int]]:
    for day in window_days(now, days):
        for shard in range(shards):
            yield day, shard
