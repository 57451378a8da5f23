"""Cost figures for analytics, from the day counters the worker keeps (never from a scan).

"Cost saved" is what the hits would have cost had each been generated: hits of a kind x the average cost of
generating that kind in the window. The hit path makes one read and no write, so daily hits per kind come from
the ``hits#<kind>`` counters the usage aggregator keeps (see ``pregen.services.usage``); without them cost saved
is reported as null.
"""

from __future__ import annotations

from typing import Any

from pregen.domain.counters import Metric


def cost_figures(by_metric: dict[str, dict[str, float]]) -> dict[str, Any]:
    generated = by_metric.get(Metric.GENERATED, {})
    cost = by_metric.get(Metric.COST_USD, {})
    wasted = by_metric.get(Metric.WASTED_COST_USD, {})
    hits = by_metric.get(Metric.HITS, {})
    average = {kind: cost.get(kind, 0.0) / n for kind, n in generated.items() if n}
    saved: dict[str, float] | None = None
    if hits:
        saved = {kind: round(hits.get(kind, 0.0) * average.get(kind, 0.0), 6) for kind in hits}
    return {
        "costUsdTotal": round(sum(cost.values()), 6),
        "costUsdByModel": {m: round(v, 6) for m, v in by_metric.get(Metric.COST_USD_MODEL, {}).items()},
        "generatedByModel": {m: int(v) for m, v in by_metric.get(Metric.GENERATED_MODEL, {}).items()},
        "averageCostUsdByKind": {k: round(v, 6) for k, v in average.items()},
        "wastedCostUsdByKind": {k: round(v, 6) for k, v in wasted.items()},
        "costSavedUsdByKind": saved,
        "costSavedUsdTotal": round(sum(saved.values()), 6) if saved is not None else None,
        "batches": {
            metric.value: {k: int(v) for k, v in by_metric.get(metric, {}).items()}
            for metric in (Metric.BATCH_SUBMITTED, Metric.BATCH_SUCCEEDED, Metric.BATCH_FALLBACK)
        },
        # What Message Batches saved: each stored batch result's billed usage at the direct price less its batch price.
        "batchSavedUsdByKind": {k: round(v, 6) for k, v in by_metric.get(Metric.BATCH_SAVED_USD, {}).items()},
        "throttledByKind": {k: int(v) for k, v in by_metric.get(Metric.THROTTLED, {}).items()},
    }
