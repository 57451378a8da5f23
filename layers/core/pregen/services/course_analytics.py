"""The courses' section of the analytics answer: courses started, ready and failed in the window, and their time
from request to ready (p50 and p95 from the histogram counters, and the mean)."""

from __future__ import annotations

from typing import Any

from pregen.domain.counters import ALL, Metric, course_ready_bound
from pregen.services.usage import COURSE_READY_BUCKETS_MS, histogram_percentile


def course_figures(by_metric: dict[str, dict[str, float]]) -> dict[str, Any]:
    """``by_metric``: the window's counters as {metric: {dimension: value}} (pregen.services.analytics)."""

    def count(metric: Metric) -> int:
        return int(by_metric.get(metric, {}).get(ALL, 0))

    buckets = {
        bound: values.get(ALL, 0.0)
        for metric, values in by_metric.items()
        if (bound := course_ready_bound(metric)) is not None
    }
    ready = count(Metric.COURSES_READY)
    total_ms = by_metric.get(Metric.COURSE_READY_MS_SUM, {}).get(ALL, 0.0)
    return {
        "started": count(Metric.COURSES_STARTED),
        "ready": ready,
        "failed": count(Metric.COURSES_FAILED),
        "timeToReadyMs": {
            "p50": histogram_percentile(buckets, 0.50, COURSE_READY_BUCKETS_MS),
            "p95": histogram_percentile(buckets, 0.95, COURSE_READY_BUCKETS_MS),
            "mean": round(total_ms / ready) if ready else None,
        },
    }
