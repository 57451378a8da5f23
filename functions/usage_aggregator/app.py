"""usage-aggregator: turns the content table's stream (changes of ``stats`` items) into exact daily hit counters."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from pregen.observability import logger, metrics
from pregen.services.usage import aggregate
from pregen.wiring import usage_deps


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # The whole batch is summed into one transaction: it succeeds or fails as a unit, and a failed batch is
    # delivered again whole, so there is no per-record partial failure to report.
    counters, clock = usage_deps()
    records = event.get("Records", [])
    per_day = aggregate(records, counters, clock.now())
    hits = sum(int(v) for counts in per_day.values() for k, v in counts.items() if k.startswith("hits#"))
    metrics.add_metric(name="HitsAggregated", unit=MetricUnit.Count, value=hits)
    logger.info("usage aggregated", records=len(records), hits=hits, days=sorted(per_day))
    return {"records": len(records), "hits": hits}
