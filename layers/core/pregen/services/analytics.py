"""Analytics from counters kept as work happens (one BatchGetItem per 100 counter items) and queue attributes.

Reads the day items of the window, those from today to the last day a ready exam can expire (expiries by hour) and
the ``gauges`` item, one BatchGetItem per 100 of them: the cost depends on the window, never on the items stored.

Content items (cache entries) and exams (a learner's pre-generated exams) are counted alike and reported apart:
generated, used (an item's first hit; an exam's claim), expired and expiring. An exam counts as expired when it
reaches its expiry unclaimed (``pregen.domain.exam_stats``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.domain.counters import CLAIMED_EXAMS, Metric, expiring_hour, latency_bound, on_expiry_day, parse
from pregen.domain.errors import InvalidRequest
from pregen.domain.exam_stats import EXAMS_CLAIMED, EXAMS_ERASED, EXAMS_GENERATED, USERS_TOTAL, instant
from pregen.services.costs import cost_figures
from pregen.services.course_analytics import course_figures
from pregen.services.provider_view import provider_figures
from pregen.services.usage import LATENCY_BUCKETS_MS, histogram_percentile

if TYPE_CHECKING:
    from pregen.ports import Clock, Counters, JobQueue
    from pregen.services.provider_view import ProviderView

MAX_WINDOW_DAYS = 366
GAUGES = "gauges"
Gauges = dict[str, float]


@dataclass
class AnalyticsDeps:
    counters: Counters
    queue: JobQueue
    queue_urls: dict[str, str]
    clock: Clock
    exam_ready_days: int = 7  # how far ahead a ready exam can expire: the day items read for exam expiries
    provider: ProviderView | None = None  # the provider's budget per model (None: no "providers" section)


def window(from_day: str | None, to_day: str | None, today: dt.date) -> list[str]:
    try:
        end = dt.date.fromisoformat(to_day) if to_day else today
        start = dt.date.fromisoformat(from_day) if from_day else end - dt.timedelta(days=6)
    except ValueError as exc:
        raise InvalidRequest("from and to must be dates as YYYY-MM-DD") from exc
    except OverflowError as exc:  # to=0001-01-03 alone: its default start would fall before year 1
        raise InvalidRequest("the window would start before 0001-01-01; give from") from exc
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
        metric, dimension = parse(name)
        by_metric[metric][dimension] = by_metric[metric].get(dimension, 0.0) + value
    return by_metric


def _rate(hits: float, misses: float) -> float:
    return round(hits / (hits + misses), 4) if hits + misses else 0.0


def _percentile(buckets: dict[str, float], fraction: float) -> int | None:
    """The upper bound (ms) of the histogram bucket holding the given fraction of generations."""
    return histogram_percentile(buckets, fraction, LATENCY_BUCKETS_MS)


def _latency(by_metric: dict[str, dict[str, float]], kinds: set[str]) -> dict[str, dict[str, Any]]:
    """Per kind, direct calls (``lesson``) and Message Batches (``lesson.batch``, submission to result) apart."""
    result: dict[str, dict[str, Any]] = {}
    timed = {dim for metric, values in by_metric.items() if latency_bound(metric) is not None for dim in values}
    for kind in sorted(kinds | timed):
        buckets = {
            bound: values[kind]
            for metric, values in by_metric.items()
            if (bound := latency_bound(metric)) is not None and kind in values
        }
        count = sum(buckets.values())
        result[kind] = {
            "p50": _percentile(buckets, 0.50),
            "p95": _percentile(buckets, 0.95),
            "mean": round(by_metric.get(Metric.LATENCY_MS_SUM, {}).get(kind, 0.0) / count) if count else None,
        }
    return result


def _expiries(days: dict[str, dict[str, float]], window_days: list[str], now: dt.datetime) -> tuple[int, int]:
    """(expired within the window up to now, expiring in the 24 hours from the start of the current hour)."""
    today, tomorrow = now.date().isoformat(), (now.date() + dt.timedelta(days=1)).isoformat()

    def hour(day: str, h: int) -> float:
        return days.get(day, {}).get(expiring_hour(h), 0.0)

    expired = 0.0
    for day in window_days:
        if day < today:
            expired += sum(v for k, v in days.get(day, {}).items() if parse(k)[0] == Metric.EXPIRING)
        elif day == today:
            expired += sum(hour(today, h) for h in range(now.hour))
    within = sum(hour(today, h) for h in range(now.hour, 24)) + sum(hour(tomorrow, h) for h in range(now.hour))
    return int(expired), int(within)


def analytics(from_day: str | None, to_day: str | None, deps: AnalyticsDeps) -> dict[str, Any]:
    """The analytics document of a window of days: read the counters, add the window up, report."""
    now = deps.clock.now()
    moment = dt.datetime.fromtimestamp(now, tz=dt.UTC)
    days = window(from_day, to_day, moment.date())
    per_day, gauges = _read(days, moment, deps)
    totals = _Figures(_window_totals(per_day, days))
    expired, expiring = _expiries(per_day, days, moment)
    exams = _ExamBuckets(per_day, now)
    return {
        "from": days[0],
        "to": days[-1],
        **_inventory_figures(totals, gauges, items=(expired, expiring), exams=exams, window_days=days),
        **_cache_figures(totals),
        **_generation_figures(totals),
        "daily": [_day_figures(day, per_day.get(day, {})) for day in days],
        "costs": cost_figures(totals.by_metric),
        "courses": course_figures(totals.by_metric),
        "queues": deps.queue.depth(deps.queue_urls),
        **({"providers": provider_figures(deps.provider, now)} if deps.provider else {}),
        "timestamp": int(now),
    }


def _read(days: list[str], moment: dt.datetime, deps: AnalyticsDeps) -> tuple[dict[str, dict[str, float]], Gauges]:
    """The window's day items, today's to the last day a ready exam can expire (expiries by hour), and the gauges."""
    ahead = [(moment.date() + dt.timedelta(days=i)).isoformat() for i in range(deps.exam_ready_days + 2)]
    items = deps.counters.read_items([f"day#{d}" for d in [*days, *ahead]] + [GAUGES])
    per_day = {pk.removeprefix("day#"): counts for pk, counts in items.items() if pk.startswith("day#")}
    return per_day, items.get(GAUGES, {})


def _window_totals(per_day: dict[str, dict[str, float]], days: list[str]) -> dict[str, float]:
    """Each counter summed over the window; expiries belong to the expiry date, not the window."""
    totals: dict[str, float] = defaultdict(float)
    for day in days:
        for name, value in per_day.get(day, {}).items():
            if not on_expiry_day(name):
                totals[name] += value
    return totals


class _Figures:
    """A window's counters by metric and dimension, read as the document's figures."""

    def __init__(self, totals: dict[str, float]) -> None:
        self.by_metric = _split(totals)

    def ints(self, metric: Metric) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(self.by_metric.get(metric, {}).items())}

    def money(self, metric: Metric) -> dict[str, float]:
        return {k: round(v, 6) for k, v in sorted(self.by_metric.get(metric, {}).items())}

    def total(self, metric: Metric) -> float:
        return sum(self.by_metric.get(metric, {}).values())

    def of(self, metric: Metric, dimension: str) -> float:
        return self.by_metric.get(metric, {}).get(dimension, 0)


def _day_figures(day: str, counts: dict[str, float]) -> dict[str, Any]:
    figures = _Figures(counts)
    hits, misses = figures.total(Metric.HITS), figures.total(Metric.MISSES)
    return {
        "day": day,
        "hits": int(hits),
        "misses": int(misses),
        "hitRate": _rate(hits, misses),
        "generated": int(figures.total(Metric.GENERATED)),
        "costUsd": round(figures.total(Metric.COST_USD), 6),
    }


class _ExamBuckets:
    """Ready exams and the learners holding them, by the whole hour they expire (``pregen.domain.exam_stats``)."""

    def __init__(self, per_day: dict[str, dict[str, float]], now: float) -> None:
        self.now = now
        self.exams: list[tuple[str, float, float]] = []  # (day, expiry, count)
        self.learners: list[tuple[float, float]] = []
        for day, counts in per_day.items():
            for counter, value in counts.items():
                metric, hour = parse(counter)
                if metric == Metric.EXAM_EXPIRING:
                    self.exams.append((day, instant(day, hour), value))
                elif metric == Metric.LEARNERS_READY_UNTIL:
                    self.learners.append((instant(day, hour), value))

    def ready_now(self) -> int:
        return int(sum(n for _, expiry, n in self.exams if expiry > self.now))

    def learners_with_ready(self) -> int:
        return int(sum(n for until, n in self.learners if until > self.now))

    def expired_in(self, days: list[str]) -> int:
        wanted = set(days)
        return int(sum(n for day, expiry, n in self.exams if day in wanted and expiry <= self.now))

    def expiring_within(self, seconds: float) -> int:
        return int(sum(n for _, expiry, n in self.exams if self.now < expiry <= self.now + seconds))


def _inventory_figures(
    totals: _Figures, gauges: Gauges, *, items: tuple[int, int], exams: _ExamBuckets, window_days: list[str]
) -> dict[str, Any]:
    """The fields of the analytics endpoint this system replaces, same names, content items and exams together;
    ``breakdown`` says which is which."""
    exams_by_type = totals.ints(Metric.EXAM_GENERATED)
    generated = {"contentItems": sum(totals.ints(Metric.GENERATED).values()), "exams": sum(exams_by_type.values())}
    used_by_kind = totals.ints(Metric.USED)
    used = {"exams": used_by_kind.pop(CLAIMED_EXAMS, 0)}
    used["contentItems"] = sum(used_by_kind.values())
    expired = {"contentItems": items[0], "exams": exams.expired_in(window_days)}
    expiring = {"contentItems": items[1], "exams": exams.expiring_within(86_400)}
    total_generated, total_used = sum(generated.values()), sum(used.values())
    return {
        "totalGenerated": total_generated,
        "totalUsed": total_used,
        "totalUnused": max(0, total_generated - total_used),
        "totalExpired": sum(expired.values()),
        "usedPercentage": round(100 * total_used / total_generated, 2) if total_generated else 0.0,
        "expiringWithin24h": sum(expiring.values()),
        "averageExamsPerUser": _per(gauges.get(EXAMS_GENERATED, 0), gauges.get(USERS_TOTAL, 0)),
        "diagnosticCount": exams_by_type.get("diagnostic", 0),
        "practiceCount": exams_by_type.get("practice", 0),
        "userStats": _user_stats(gauges, exams),
        "breakdown": {
            kind: {
                "generated": generated[kind],
                "used": used[kind],
                "unused": max(0, generated[kind] - used[kind]),
                "expired": expired[kind],
                "expiringWithin24h": expiring[kind],
            }
            for kind in ("contentItems", "exams")
        },
    }


def _per(total: float, users: float) -> float:
    return round(total / users, 2) if users else 0.0


def _user_stats(gauges: Gauges, exams: _ExamBuckets) -> dict[str, Any]:
    """Learners and their exams now (not the window): every exam generated is ready, claimed, expired unclaimed,
    or erased with its learner, so expired = generated - claimed - ready - erased, exactly."""
    users = int(gauges.get(USERS_TOTAL, 0))
    with_ready, ready = exams.learners_with_ready(), exams.ready_now()
    generated, claimed = int(gauges.get(EXAMS_GENERATED, 0)), int(gauges.get(EXAMS_CLAIMED, 0))
    expired = generated - claimed - ready - int(gauges.get(EXAMS_ERASED, 0))
    figures = {"generated": generated, "ready": ready, "claimed": claimed, "expired": expired}
    return {
        "usersWithPreGen": with_ready,
        "usersWithoutPreGen": max(0, users - with_ready),
        "avgPreGenPerUser": _per(ready, with_ready),
        "usersTotal": users,
        "exams": figures,
        "examsPerUser": {name: _per(value, users) for name, value in figures.items()},
    }


def _cache_figures(totals: _Figures) -> dict[str, Any]:
    """Cache behaviour: hits and misses per kind, uses, claims."""
    hits, misses = totals.ints(Metric.HITS), totals.ints(Metric.MISSES)
    total_hits, total_misses = sum(hits.values()), sum(misses.values())
    kinds = set(totals.ints(Metric.GENERATED)) | set(hits) | set(misses)
    return {
        "hitRate": _rate(total_hits, total_misses),
        "hits": total_hits,
        "misses": total_misses,
        "hitsByKind": hits,
        "missesByKind": misses,
        "hitRateByKind": {k: _rate(hits.get(k, 0), misses.get(k, 0)) for k in sorted(kinds)},
        "usedByKind": totals.ints(Metric.USED),
        # Near-duplicates (issue 33): hits served through a verified alias (counted in hits too, on their target),
        # the judgements made and what they cost, and the misses an alias settled without a generation.
        "aliasHits": int(totals.total(Metric.ALIAS_HITS)),
        "aliasHitsByKind": totals.ints(Metric.ALIAS_HITS),
        "judged": int(totals.total(Metric.JUDGED)),
        "judgeCostUsd": round(totals.total(Metric.JUDGE_COST_USD), 6),
        "aliasedByKind": totals.ints(Metric.ALIASED),
        "claimedByExamType": totals.ints(Metric.CLAIMED),
        "examsByType": totals.ints(Metric.EXAM_GENERATED),
    }


def _generation_figures(totals: _Figures) -> dict[str, Any]:
    """Generation: counts, latency, tokens, cost, cost saved and wasted, failures."""
    generated = totals.ints(Metric.GENERATED)
    return {
        "generatedByKind": generated,
        "generatedByGenerator": totals.ints(Metric.GENERATED_BY),
        "generatedByModel": totals.ints(Metric.GENERATED_MODEL),
        "latencyMs": _latency(totals.by_metric, set(generated)),
        "tokens": {
            kind: {
                "input": int(totals.of(Metric.TOKENS_IN, kind)),
                "output": int(totals.of(Metric.TOKENS_OUT, kind)),
                "cache_write": int(totals.of(Metric.TOKENS_CACHE_WRITE, kind)),
                "cache_read": int(totals.of(Metric.TOKENS_CACHE_READ, kind)),
            }
            for kind in sorted(generated)
        },
        "tokensByModel": totals.ints(Metric.TOKENS_MODEL),
        "costUsd": round(totals.total(Metric.COST_USD), 6),
        "costUsdByKind": totals.money(Metric.COST_USD),
        "costUsdByModel": totals.money(Metric.COST_USD_MODEL),
        "costSavedUsd": round(totals.total(Metric.COST_SAVED_USD), 6),
        "costSavedUsdByKind": totals.money(Metric.COST_SAVED_USD),
        "wastedCostUsdByKind": totals.money(Metric.WASTED_COST_USD),
        "failuresByReason": totals.ints(Metric.FAILED),
    }
