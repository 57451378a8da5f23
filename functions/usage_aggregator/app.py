"""usage-aggregator: exact hit and miss counts, in steps that keep every counter write off the request path.

1. Hit lines from get-content's log (a CloudWatch Logs subscription, ``pregen.usage_log``) are added to each
   key's small ``stats`` item, once per delivered batch; miss lines of the same batch go straight to the day
   counters (``misses#<kind>``), once per batch.
2. The content table's stream (changes of ``stats`` items) becomes daily counters, once per batch.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from pregen import usage_log
from pregen.domain.counters import Metric, parse
from pregen.observability import logger, metrics
from pregen.wiring.priming import prime
from pregen.wiring.usage import aggregate_stream, hit_counter, usage_deps

prime(usage_deps, hit_counter)  # in init: settings, clients and service models, not in the first invocation


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "awslogs" in event:
        return count_logged_hits(event)
    # The whole batch is summed into one transaction: it succeeds or fails as a unit, and a failed batch is
    # delivered again whole, so there is no per-record partial failure to report.
    records = event.get("Records", [])
    per_day = aggregate_stream(records)
    hits = sum(int(v) for counts in per_day.values() for k, v in counts.items() if parse(k)[0] == Metric.HITS)
    metrics.add_metric(name="HitsAggregated", unit=MetricUnit.Count, value=hits)
    logger.info("usage aggregated", records=len(records), hits=hits, days=sorted(per_day))
    return {"records": len(records), "hits": hits}


def count_logged_hits(event: dict[str, Any]) -> dict[str, Any]:
    """A subscription batch: add its hits to the stats items and its misses to the day counters. An error fails the
    invocation, and Lambda's asynchronous retries (then the on-failure queue) keep the batch; its markers (one for
    the hits, one for the misses) make a retry add nothing twice."""
    batch = usage_log.decode_subscription(event)
    log_events = batch.get("logEvents") or []
    hits = usage_log.hits_of(log_events)
    per_day = usage_log.misses_of(log_events)
    counters, clock = usage_deps()
    batch_id = usage_log.batch_id(log_events)
    misses = int(sum(v for counts in per_day.values() for k, v in counts.items() if parse(k)[0] == Metric.MISSES))
    keep = usage_log.MARKER_DAYS
    if per_day and not counters.add_once(f"misses#{batch_id}", per_day, clock.now(), keep_days=keep):
        misses = 0  # this batch's misses were counted by an earlier delivery
    added = hit_counter().add(batch_id, hits, clock.now()) if hits else 0
    metrics.add_metric(name="HitsLogged", unit=MetricUnit.Count, value=added)
    metrics.add_metric(name="MissesLogged", unit=MetricUnit.Count, value=misses)
    logger.info("logged usage counted", log_events=len(log_events), keys=len(hits), hits=added, misses=misses)
    return {"log_events": len(log_events), "hits": added, "misses": misses}
