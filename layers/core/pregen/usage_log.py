"""Cache hits and misses leave the request path as one line each of the function's log, and are counted from there.

A hit is one GetItem and nothing else: the handler prints ``{"usage": "hit", "key": ..., "at": ...}`` to stdout,
which Lambda ships to the function's log group. A subscription filter on that group (``USAGE_FILTER_PATTERN``)
delivers the lines in batches to the usage aggregator, which adds them to each key's small ``stats`` item in
transactions guarded by a marker (a batch delivered again adds nothing). The stats change then flows through the
content table's stream into the day counters, as before. The hit costs no write and no extra round trip; the
count arrives seconds later.

A miss prints ``{"usage": "miss", "key": ..., "kind": ..., "at": ...}`` the same way, and the aggregator adds a
batch's misses straight to the day counters (``misses#<kind>``), in one transaction with a marker of the batch. So
a stampede of misses on one key does not write one hot day item 200 times from the request path.

The line is printed, not logged: it must not depend on the log level an operator picks (it has no ``level``, so
Lambda's log-level filtering files it as INFO, the lowest application level a hit path needs).

A hit's line is also its metric: it carries an embedded-metric-format (EMF) directive filing ``CacheHit`` per kind and
kind-less (the series the hit-rate alarm reads), so a hit writes one line of log and nothing else at the default
level (~0.3 KB; docs/CAPACITY.md).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

# CloudWatch Logs filter pattern syntax for JSON log events: the subscription delivers only the hit and miss lines.
USAGE_FILTER_PATTERN = '{ $.usage = "hit" || $.usage = "miss" }'


# The metric a hit's line files (EMF), in get-content's namespace and service (pregen.observability).
EMF_HIT_METRIC = "CacheHit"
EMF_NAMESPACE = "Pregen"
EMF_SERVICE = "pregen"


def hit_line(key: str, now: float, kind: str | None = None, alias: str | None = None) -> str:
    """The hit's usage line; with its ``kind``, also the hit's EMF metric (per kind and across kinds). ``alias``:
    the wording's key when the hit was served through a verified alias (``key`` is the content's)."""
    line: dict[str, Any] = {"usage": "hit", "key": key, "at": int(now)}
    if alias is not None:
        line["alias"] = alias
    if kind is not None:
        directive = {
            "Namespace": EMF_NAMESPACE,
            "Dimensions": [["kind", "service"], ["service"]],
            "Metrics": [{"Name": EMF_HIT_METRIC, "Unit": "Count"}],
        }
        line |= {
            "_aws": {"Timestamp": int(now * 1000), "CloudWatchMetrics": [directive]},
            "kind": kind,
            "service": EMF_SERVICE,
            EMF_HIT_METRIC: 1,
        }
    return json.dumps(line, separators=(",", ":"))


def miss_line(key: str, kind: str, now: float) -> str:
    return json.dumps({"usage": "miss", "key": key, "kind": kind, "at": int(now)}, separators=(",", ":"))


def _stdout(line: str) -> None:
    # Flushed now: a line left in a buffer when Lambda freezes the environment would be late, or lost with it.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


_sink: Callable[[str], None] = _stdout


def record_hit(key: str, now: float, kind: str | None = None, *, alias: str | None = None) -> None:
    """Count a hit: one line on stdout (Lambda sends it to CloudWatch Logs; no request is made here), which with
    the ``kind`` is the hit's metric too. ``alias``: the wording's key of a hit served through an alias."""
    _sink(hit_line(key, now, kind, alias))


def record_miss(key: str, kind: str, now: float) -> None:
    """Count a miss (one that enqueued or joined a job): one line on stdout, added to the day counters later."""
    _sink(miss_line(key, kind, now))


def set_sink(sink: Callable[[str], None] | None) -> Callable[[str], None]:
    """Where usage lines go instead of stdout (the local stack's log subscription, tests); None restores stdout.
    Returns the previous sink."""
    global _sink
    previous, _sink = _sink, (sink or _stdout)
    return previous


# -- the aggregator's side: CloudWatch Logs subscription events (aws_emulator.logs.awslogs_event builds them locally)


def decode_subscription(event: dict[str, Any]) -> dict[str, Any]:
    """The batch inside a subscription event; a CONTROL_MESSAGE (CloudWatch's delivery check) has no events."""
    import base64
    import gzip

    raw = gzip.decompress(base64.b64decode(event["awslogs"]["data"]))
    payload: dict[str, Any] = json.loads(raw)
    return payload


@dataclass(frozen=True)
class KeyHits:
    count: int
    last_at: int


# A key DynamoDB accepts as a partition key, and an epoch DynamoDB and the day counters can use.
_MAX_KEY_BYTES = 2048
_EPOCH_RANGE = (1_000_000_000, 10_000_000_000)


def _hit_at(value: Any, log_event: dict[str, Any]) -> int:
    """The hit's time from the line, or the log event's timestamp when the line's is missing or absurd."""
    number = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if number and _EPOCH_RANGE[0] <= value < _EPOCH_RANGE[1]:
        return int(value)
    stamp = log_event.get("timestamp")
    return int(stamp) // 1000 if isinstance(stamp, int) and not isinstance(stamp, bool) and stamp > 0 else 0


def _usage_lines(log_events: Iterable[dict[str, Any]], usage: str) -> Iterator[tuple[dict[str, Any], int]]:
    """Each JSON line of the given ``usage`` ("hit", "miss") with its time; anything else is skipped."""
    for log_event in log_events:
        try:
            line = json.loads(str(log_event.get("message", "")).strip())
        except ValueError:
            continue
        if isinstance(line, dict) and line.get("usage") == usage and (at := _hit_at(line.get("at"), log_event)):
            yield line, at


def hits_of(log_events: Iterable[dict[str, Any]]) -> dict[str, KeyHits]:
    """Hits per key in a batch of log events. A line that is not a well-formed hit line is skipped, never an
    error: a filter pattern is a pre-filter, not a guarantee of shape, and one odd line must not hold back the
    batch's other hits."""
    counts: dict[str, KeyHits] = {}
    for line, at in _usage_lines(log_events, "hit"):
        key = line.get("key")
        if not isinstance(key, str) or not 0 < len(key.encode()) <= _MAX_KEY_BYTES:
            continue
        seen = counts.get(key)
        counts[key] = KeyHits(count=(seen.count if seen else 0) + 1, last_at=max(at, seen.last_at if seen else 0))
    return counts


# How long a logged batch's markers are kept: longer than a failed batch can wait in UsageDeadLetterQueue (14 days)
# before it is replayed, so a replay adds nothing twice (the hits' markers: DynamoHitCounter.MARKER_DAYS).
MARKER_DAYS = 15

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,63}$")  # a content kind as the counters name it (pregen.domain.models)


def misses_of(log_events: Iterable[dict[str, Any]]) -> dict[str, dict[str, int | float]]:
    """Misses per day (the miss's own time, UTC) and counter (``misses#<kind>``) in a batch of log events, and the
    hits served through an alias (``alias_hits#<kind>``; they count as hits of their target too). As in
    ``hits_of``, a line that is not a well-formed miss line is skipped."""
    import datetime as dt  # here: get-content imports this module for record_hit/record_miss only (cold start)

    from pregen.domain.counters import Metric, name

    per_day: dict[str, dict[str, int | float]] = {}
    lines = [(line, at, Metric.MISSES) for line, at in _usage_lines(log_events, "miss")]
    lines += [(line, at, Metric.ALIAS_HITS) for line, at in _usage_lines(log_events, "hit") if line.get("alias")]
    for line, at, metric in lines:
        kind = line.get("kind")
        if not isinstance(kind, str) or not _KIND.match(kind):
            continue
        day = dt.datetime.fromtimestamp(at, tz=dt.UTC).date().isoformat()
        counts = per_day.setdefault(day, {})
        counter = name(metric, kind)
        counts[counter] = counts.get(counter, 0) + 1
    return per_day


def batch_id(log_events: Iterable[dict[str, Any]]) -> str:
    """The same batch delivered again has the same id (log event ids are unique per line; without one, the
    event's timestamp and message stand in)."""
    parts = [str(e.get("id") or f"{e.get('timestamp')}:{e.get('message')}") for e in log_events]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
