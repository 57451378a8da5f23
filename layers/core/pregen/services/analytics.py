"""Analytics from counters kept as work happens (one BatchGetItem per 100 counter items) and queue attributes.

Reads the day items of the window plus today's and tomorrow's (expiries by hour) and the ``gauges`` item, in
one BatchGetItem for windows up to 98 days: the cost depends on the window, never on the items stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.domain.errors import InvalidRequest
from pregen.services.costs import cost_figures
from pregen.services.usage import LATENCY_BUCKETS_MS, PREGEN_UNUSED, USERS_TOTAL, USERS_WITH_PREGEN

if TYPE_CHECKING:
    from pregen.domain.clock import Clock
    from pregen.ports import Counters, JobQueue

MAX_WINDOW_DAYS = 366
GAUGES = "gauges"


@dataclass
class AnalyticsDeps:
    counters: Counters
    queue: JobQueue
    queue_urls: dict[str, str]
    clock: Clock


def window(from_day: str | None, to_day: str | None, today: dt.date) -> list[str]:
    try:
        end = dt.date.fromisoformat(to_day) if to_day else today
        start = dt.date.fromisoformat(from_day) if from_day else end - dt.timedelta(days=6)
    except ValueError as exc:
        raise InvalidRequest("from and to must be dates as YYYY-MM-DD") from exc
    if start > end:
        raise InvalidRequest("from must not be after to")
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise InvalidRequest(f"the window may span at most {MAX_WINDOW_DAYS} days")
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(days)]


def _split(counts: dict[str, float]) -> dict[str, dict[str, float]]:
    """``metric#dimension`` attributes → {metric: {dimension: value}}."""
    by_metric: dict[str, dict[str, float]] = defaultdict(dict)
    for name, value in counts.items():
        metric, _, dimension = name.partition("#")
        by_metric[metric][dimension or "all"] = by_metric[metric].get(dimension or "all", 0.0) + value
    return by_metric


def _rate(hits: float, misses: float) -> float:
    return round(hits / (hits + misses), 4) if hits + misses else 0.0


def _percentile(buckets: dict[str, float], fraction: float) -> int | None:
    """The upper bound (ms) of the histogram bucket holding the given fraction of generations."""
    total = sum(buckets.values())
    if not total:
        return None
    seen = 0.0
    for bound in [*map(str, LATENCY_BUCKETS_MS), "inf"]:
        seen += buckets.get(bound, 0.0)
        if seen >= fraction * total:
            return int(bound) if bound != "inf" else -1
    return -1


def _latency(by_metric: dict[str, dict[str, float]], kinds: set[str]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    generated = by_metric.get("generated", {})
    for kind in sorted(kinds):
        buckets = {
            metric.removeprefix("latency_le_"): values[kind]
            for metric, values in by_metric.items()
            if metric.startswith("latency_le_") and kind in values
        }
        count = generated.get(kind, 0.0)
        result[kind] = {
            "p50": _percentile(buckets, 0.50),
            "p95": _percentile(buckets, 0.95),
            "mean": round(by_metric.get("latency_ms_sum", {}).get(kind, 0.0) / count) if count else None,
        }
    return result


def _expiries(days: dict[str, dict[str, float]], window_days: list[str], now: dt.datetime) -> tuple[int, int]:
    """(expired within the window up to now, expiring in the 24 hours from the start of the current hour)."""
    today, tomorrow = now.date().isoformat(), (now.date() + dt.timedelta(days=1)).isoformat()

    def hour(day: str, h: int) -> float:
        return days.get(day, {}).get(f"expiring_h{h:02d}#all", 0.0)

    expired = 0.0
    for day in window_days:
        if day < today:
            expired += sum(v for k, v in days.get(day, {}).items() if k.startswith("expiring#"))
        elif day == today:
            expired += sum(hour(today, h) for h in range(now.hour))
    within = sum(hour(today, h) for h in range(now.hour, 24)) + sum(hour(tomorrow, h) for h in range(now.hour))
    return int(expired), int(within)


def analytics(from_day: str | None, to_day: str | None, deps: AnalyticsDeps) -> dict[str, Any]:
    now = deps.clock.now()
    moment = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    days = window(from_day, to_day, moment.date())
    today, tomorrow = moment.date().isoformat(), (moment.date() + dt.timedelta(days=1)).isoformat()
    items = deps.counters.read_items([f"day#{d}" for d in [*days, today, tomorrow]] + [GAUGES])
    per_day = {pk.removeprefix("day#"): counts for pk, counts in items.items() if pk.startswith("day#")}
    gauges = items.get(GAUGES, {})

    totals: dict[str, float] = defaultdict(float)
    daily = []
    for day in days:
        counts = per_day.get(day, {})
        for name, value in counts.items():
            if not name.startswith(("expiring#", "expiring_h")):  # those belong to the expiry date, not the window
                totals[name] += value
        split = _split(counts)
        day_hits, day_misses = sum(split.get("hits", {}).values()), sum(split.get("misses", {}).values())
        daily.append(
            {
                "day": day,
                "hits": int(day_hits),
                "misses": int(day_misses),
                "hitRate": _rate(day_hits, day_misses),
                "generated": int(sum(split.get("generated", {}).values())),
                "costUsd": round(sum(split.get("cost_usd", {}).values()), 6),
            }
        )
    by_metric = _split(totals)

    def ints(metric: str) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(by_metric.get(metric, {}).items())}

    def money(metric: str) -> dict[str, float]:
        return {k: round(v, 6) for k, v in sorted(by_metric.get(metric, {}).items())}

    generated, hits, misses = ints("generated"), ints("hits"), ints("misses")
    total_generated, total_used = sum(generated.values()), sum(ints("used").values())
    total_hits, total_misses = sum(hits.values()), sum(misses.values())
    kinds = set(generated) | set(hits) | set(misses)
    expired, expiring = _expiries(per_day, days, moment)
    exams_by_type = ints("exam_generated")
    # Not built: nothing feeds the gauges yet (see pregen.services.usage), so these read 0.
    users_total, users_with = int(gauges.get(USERS_TOTAL, 0)), int(gauges.get(USERS_WITH_PREGEN, 0))
    unused_pregen = int(gauges.get(PREGEN_UNUSED, 0))
    return {
        "from": days[0],
        "to": days[-1],
        # The fields of the analytics endpoint this system replaces, same names.
        "totalGenerated": total_generated,
        "totalUsed": total_used,
        "totalUnused": max(0, total_generated - total_used),
        "totalExpired": expired,
        "usedPercentage": round(100 * total_used / total_generated, 2) if total_generated else 0.0,
        "expiringWithin24h": expiring,
        "averageExamsPerUser": round(sum(exams_by_type.values()) / users_total, 2) if users_total else 0.0,
        "diagnosticCount": exams_by_type.get("diagnostic", 0),
        "practiceCount": exams_by_type.get("practice", 0),
        "userStats": {
            "usersWithPreGen": users_with,
            "usersWithoutPreGen": max(0, users_total - users_with),
            "avgPreGenPerUser": round(unused_pregen / users_with, 2) if users_with else 0.0,
        },
        # Cache behaviour.
        "hitRate": _rate(total_hits, total_misses),
        "hits": total_hits,
        "misses": total_misses,
        "hitsByKind": hits,
        "missesByKind": misses,
        "hitRateByKind": {k: _rate(hits.get(k, 0), misses.get(k, 0)) for k in sorted(kinds)},
        "usedByKind": ints("used"),
        "claimedByExamType": ints("claimed"),
        "examsByType": exams_by_type,
        # Generation.
        "generatedByKind": generated,
        "generatedByGenerator": ints("generated_by"),
        "generatedByModel": ints("generated_model"),
        "latencyMs": _latency(by_metric, set(generated)),
        "tokens": {
            kind: {
                "input": int(by_metric.get("tokens_in", {}).get(kind, 0)),
                "output": int(by_metric.get("tokens_out", {}).get(kind, 0)),
                "cache_write": int(by_metric.get("tokens_cache_write", {}).get(kind, 0)),
                "cache_read": int(by_metric.get("tokens_cache_read", {}).get(kind, 0)),
            }
            for kind in sorted(generated)
        },
        "tokensByModel": ints("tokens_model"),
        "costUsd": round(sum(by_metric.get("cost_usd", {}).values()), 6),
        "costUsdByKind": money("cost_usd"),
        "costUsdByModel": money("cost_usd_model"),
        "costSavedUsd": round(sum(by_metric.get("cost_saved_usd", {}).values()), 6),
        "costSavedUsdByKind": money("cost_saved_usd"),
        "wastedCostUsdByKind": money("wasted_cost_usd"),
        "failuresByReason": ints("failed"),
        "daily": daily,
        "costs": cost_figures(by_metric),
        "queues": deps.queue.depth(deps.queue_urls),
        "timestamp": int(now),
    }
