"""webhook: forwards each Pregen event from the bus to the app's URL (``WebhookUrl``), signed
(``pregen.domain.webhooks``). A refused or failed POST raises: Lambda retries it twice (EventInvokeConfig), then
puts it on WebhookFailureQueue, which alarms."""

import json
import time
import urllib.error
import urllib.request
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from pregen.domain.webhooks import HEADER, signature
from pregen.observability import logger, metrics
from pregen.wiring.notify import webhook


class WebhookRefused(RuntimeError):
    """The app's endpoint answered other than 2xx, or could not be reached: the delivery is retried."""


def body_of(event: dict[str, Any]) -> bytes:
    """What the app receives: the event's id, type, time and detail (the bus's envelope without AWS's fields)."""
    detail = event.get("detail")
    if isinstance(detail, str):
        detail = json.loads(detail)
    payload = {"id": event.get("id"), "type": event.get("detail-type"), "time": event.get("time"), "detail": detail}
    return json.dumps(payload, separators=(",", ":")).encode()


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings, key = webhook()
    body = body_of(event)
    request = urllib.request.Request(
        settings.webhook_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", HEADER: signature(key.decode(), int(time.time()), body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, TimeoutError) as exc:
        metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
        raise WebhookRefused(f"the webhook could not be reached: {exc}") from exc
    if not 200 <= status < 300:
        metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
        raise WebhookRefused(f"the webhook answered {status}")
    metrics.add_metric(name="WebhookDelivered", unit=MetricUnit.Count, value=1)
    logger.info("event delivered", type=event.get("detail-type"), status=status)
    return {"status": status}
