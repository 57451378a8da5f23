"""notify: the tables' streams become Pregen's events on the stack's EventBridge bus (job done or failed, course
ready or failed, exam ready, erasure complete; ``pregen.domain.notifications``). Apps subscribe to the bus with
rules of their own, or take the webhook (``functions/webhook``)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from pregen.observability import logger, metrics
from pregen.wiring.notify import publish


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    found, failed = publish(records)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=found - len(failed))
    if failed:
        # Retried from the first refused record on (ReportBatchItemFailures): events before it are not put twice.
        metrics.add_metric(name="EventsRefused", unit=MetricUnit.Count, value=len(failed))
        logger.warning("the bus refused events", refused=len(failed), of=found)
    logger.info("events published", records=len(records), events=found - len(failed))
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failed[:1]]}
