"""EMF metrics with their own dimensions (kind, lane, outcome), one record per event.

Powertools' ``metrics`` singleton holds one dimension set per invocation, but a worker batch mixes kinds and
lanes, so per-record figures go out through ``single_metric``. Dimension sets are kept few and fixed:
``{service, kind}`` for cache and generation figures, ``{service, kind, lane, outcome}`` for job outcomes.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

NAMESPACE = "Pregen"


def emit(name: str, value: float, unit: MetricUnit = MetricUnit.Count, **dimensions: str) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension("service", "pregen")
        for dim, dim_value in dimensions.items():
            metric.add_dimension(dim, dim_value)


def job_outcome(kind: str, lane: str, outcome: str) -> None:
    """One job delivery's outcome: generated, already_cached, throttled, dropped_erased, retry or failed."""
    emit("Generation", 1, kind=kind, lane=lane, outcome=outcome)


def generation_figures(kind: str, *, latency_ms: float, cost_usd: float, output_tokens: int, input_tokens: int) -> None:
    emit("GenerationLatency", latency_ms, MetricUnit.Milliseconds, kind=kind)
    emit("GenerationCostUsd", cost_usd, MetricUnit.NoUnit, kind=kind)
    emit("OutputTokens", output_tokens, kind=kind)
    emit("InputTokens", input_tokens, kind=kind)
