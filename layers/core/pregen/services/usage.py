"""Usage counters: hits and first uses counted from the content table's stream, and the hooks other features call.

The hit path makes one GetItem and no write: each hit is a log line (``pregen.usage_log``) that the usage
aggregator adds to the key's ``stats`` item in batches. The content table streams ``NEW_AND_OLD_IMAGES`` and the
aggregator turns each change of a ``stats`` item into day counters: ``hits = new.hits - old.hits``. A stream
delivers every change of an item exactly once and in order per key, and the aggregator writes a batch's sums in
one transaction guarded by a marker of the batch, so the counts are exact without a single request on the hit
path.

Counter names (attributes of the day item ``day#YYYY-MM-DD``, built by ``pregen.domain.counters``):

- ``hits#<kind>``            cache hits served (from the stream)
- ``used#<kind>``            items used for the first time (first hit, or an exam claimed)
- ``cost_saved_usd#<kind>``  what the hits would have cost to generate again (each hit times the item's cost)
- ``claimed#<exam_type>``, ``used#claimed_exam``   exams handed out by a claim (in the claim's transaction)
- ``exam_generated#<exam_type>`` pre-generated exams by type (in the publishing transaction; the exam counters and
  the learner's record: ``pregen.domain.exam_stats``)
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING

from pregen.domain.counters import Metric, expiring_hour, latency_le, name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pregen.domain.records import StatsBatch, StatsChange
    from pregen.ports import Counters


def day_of(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).date().isoformat()


def kind_of_key(key: str) -> str:
    """``v1-<kind>-<hash>`` → ``<kind>`` (kinds use underscores, never hyphens)."""
    parts = key.split("-")
    return parts[1] if len(parts) >= 3 else "unknown"


def day_counters(changes: Iterable[StatsChange]) -> dict[str, dict[str, int | float]]:
    """Day counters from the ``stats`` items' changes (read from the stream by ``pregen.adapters.stats_stream``).

    A hit raises ``hits`` by one; a regeneration after expiry puts a fresh ``stats`` item with ``hits = 0``
    (a drop, counted as nothing). The day is the hit's own ``last_access``, so a late batch still lands on
    the day the hits happened.
    """
    per_day: dict[str, dict[str, int | float]] = defaultdict(lambda: defaultdict(int))
    for change in changes:
        delta = change.hits_after - change.hits_before
        if delta <= 0:
            continue
        kind = change.kind or kind_of_key(change.key)
        counts = per_day[day_of(change.last_access)]
        counts[name(Metric.HITS, kind)] += delta
        if change.hits_before == 0:
            counts[name(Metric.USED, kind)] += 1
        if change.cost_usd:
            saved = name(Metric.COST_SAVED_USD, kind)
            counts[saved] = round(float(counts[saved]) + change.cost_usd * delta, 8)
    return {day: dict(counts) for day, counts in per_day.items()}


def aggregate(batch: StatsBatch, counters: Counters, now: float) -> dict[str, dict[str, int | float]]:
    """Add a stream batch's hits to the day counters, once; returns what the batch held."""
    per_day = day_counters(batch.changes)
    if per_day:
        counters.add_once(batch.batch_id, per_day, now)
    return per_day


# -- figures the worker adds per generation ------------------------------------------------------------------------

# Upper bounds (ms) of the latency histogram kept per kind and day: percentiles from counters, not from samples.
LATENCY_BUCKETS_MS = (250, 500, 1000, 2000, 5000, 10_000, 20_000, 45_000, 90_000, 180_000)


def latency_bucket(latency_ms: float) -> str:
    for bound in LATENCY_BUCKETS_MS:
        if latency_ms <= bound:
            return str(bound)
    return "inf"


# Upper bounds (ms) of the courses' time-to-ready histogram: from request to ready, seconds to many minutes.
COURSE_READY_BUCKETS_MS = (
    10_000,
    20_000,
    30_000,
    45_000,
    60_000,
    90_000,
    120_000,
    180_000,
    300_000,
    600_000,
    1_800_000,
)


def course_ready_bucket(took_ms: float) -> str:
    for bound in COURSE_READY_BUCKETS_MS:
        if took_ms <= bound:
            return str(bound)
    return "inf"


def histogram_percentile(buckets: dict[str, float], fraction: float, bounds: tuple[int, ...]) -> int | None:
    """The upper bound (ms) of the bucket holding the given fraction of a histogram kept as counters (bucket name:
    its upper bound, or ``inf``); -1 beyond the last bound, None when it is empty."""
    total = sum(buckets.values())
    if not total:
        return None
    seen = 0.0
    for bound in [*map(str, bounds), "inf"]:
        seen += buckets.get(bound, 0.0)
        if seen >= fraction * total:
            return int(bound) if bound != "inf" else -1
    return -1


def latency_dimension(kind: str, *, batch: bool) -> str:
    """Latencies of direct calls (seconds) and of Message Batches (hours) are kept apart: ``lesson``,
    ``lesson.batch``."""
    return f"{kind}.batch" if batch else kind


def generation_extras(
    kind: str, model: str, latency_ms: float, cost_usd: float, tokens: int, *, batch: bool = False
) -> dict[str, float]:
    """Per-model spend and the latency histogram, added with the worker's other per-generation counters."""
    return {
        latency_le(latency_bucket(latency_ms), latency_dimension(kind, batch=batch)): 1,
        name(Metric.GENERATED_MODEL, model): 1,
        name(Metric.COST_USD_MODEL, model): cost_usd,
        name(Metric.TOKENS_MODEL, model): tokens,
    }


def expiry_counts(kind: str, expires_at: float) -> dict[str, int | float]:
    """Added to the day item of the expiry date: how many items expire that day, per kind and per hour (UTC).

    ``expired`` and ``expiring within 24 h`` then come from a few day items at hour resolution, whatever TTL's
    lazy deletion is doing and however many items are stored.
    """
    hour = dt.datetime.fromtimestamp(expires_at, tz=dt.UTC).hour
    return {name(Metric.EXPIRING, kind): 1, expiring_hour(hour): 1}
