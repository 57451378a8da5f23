"""Analytics from counters kept as work happens (one BatchGetItem per 100 days) and queue attributes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.errors import InvalidRequest
from pregen.services.costs import cost_figures

if TYPE_CHECKING:
    from pregen.clock import Clock
    from pregen.ports import Counters, JobQueue

MAX_WINDOW_DAYS = 366


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


def analytics(from_day: str | None, to_day: str | None, deps: AnalyticsDeps) -> dict[str, Any]:
    now = deps.clock.now()
    days = window(from_day, to_day, dt.datetime.fromtimestamp(now, tz=dt.UTC).date())
    per_day = deps.counters.read_days(days)
    totals: dict[str, float] = defaultdict(float)
    for counts in per_day.values():
        for name, value in counts.items():
            totals[name] += value
    by_metric: dict[str, dict[str, float]] = defaultdict(dict)
    for name, value in totals.items():
        metric, _, dimension = name.partition("#")
        by_metric[metric][dimension or "all"] = value
    generated = by_metric.get("generated", {})
    return {
        "from": days[0],
        "to": days[-1],
        "totalGenerated": int(sum(generated.values())),
        "generatedByKind": {k: int(v) for k, v in generated.items()},
        "missesByKind": {k: int(v) for k, v in by_metric.get("misses", {}).items()},
        "failuresByReason": {k: int(v) for k, v in by_metric.get("failed", {}).items()},
        "costUsdByKind": {k: round(v, 6) for k, v in by_metric.get("cost_usd", {}).items()},
        "tokens": {
            kind: {
                "input": int(by_metric.get("tokens_in", {}).get(kind, 0)),
                "output": int(by_metric.get("tokens_out", {}).get(kind, 0)),
                "cache_write": int(by_metric.get("tokens_cache_write", {}).get(kind, 0)),
                "cache_read": int(by_metric.get("tokens_cache_read", {}).get(kind, 0)),
            }
            for kind in generated
        },
        "costs": cost_figures(by_metric),
        "queues": deps.queue.depth(deps.queue_urls),
        "timestamp": int(now),
    }
