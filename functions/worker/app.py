"""worker: generate the content of each queued job; failed records are reported one by one (partial batch)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from pregen.config.base import load
from pregen.config.worker import WorkerSettings
from pregen.domain.models import Lane
from pregen.messages import (
    CoursePartMessage,
    JobMessage,
    JudgementMessage,
    SectionMessage,
    message_type,
    parse_message,
)
from pregen.observability import logger, metrics
from pregen.services.lifecycle import Delivery
from pregen.wiring.lifecycle import lifecycle, work_kinds
from pregen.wiring.priming import prime
from pregen.wiring.worker import batch_deps, course_worker_deps, worker_deps


class JobRecord(SqsRecordModel):
    # Every message kind shares the lanes (pregen.messages); the body is parsed in record_handler, so a malformed
    # body still fails only its own record.
    body: Json[dict[str, Any]]  # type: ignore[assignment]


prime(worker_deps)  # in init: settings, clients, service models and the generator, not in the first batch


def _worker_id(record: JobRecord, context: Any) -> str:
    """Who holds a lease: this invocation (its request id) and the record (its message id), so two deliveries of
    one message, in two invocations, are two holders."""
    return f"{getattr(context, 'aws_request_id', 'local')}:{record.messageId}"


def _time_left_s(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) / 1000 if callable(remaining) else None


def record_handler(record: JobRecord, lambda_context: Any = None) -> str:
    """One record, of any kind, through the one lifecycle (pregen.services.lifecycle). Powertools' batch processor
    passes the invocation's context as ``lambda_context``: its time left decides whether the unit may start."""
    message = parse_message(record.body)
    delivery = Delivery(
        receive_count=int(record.attributes.ApproximateReceiveCount),
        worker_id=_worker_id(record, lambda_context),
        lane=lane_of(record.eventSourceARN),
        receipt_handle=record.receiptHandle,
        time_left_s=_time_left_s(lambda_context),
    )
    return lifecycle().run(work_kinds()[message_type(record.body)], message, delivery)


def lane_of(source_arn: str) -> Lane:
    """The lane a record came from: its queue's name (the ARN's last part) against the background queue URL's."""
    background = load(WorkerSettings).background_queue_url.rstrip("/").rsplit("/", 1)[-1]
    return Lane.BACKGROUND if source_arn.rsplit(":", 1)[-1] == background else Lane.INTERACTIVE


def submit_to_batches(records: list[dict[str, Any]]) -> set[str]:
    """Background records go to the Message Batches API in one chunk (when enabled). Returns the message ids
    taken care of; anything else (and everything, if the submission fails) is generated directly."""
    deps = batch_deps()
    if deps is None:
        return set()
    from pregen.services.batches import submit_background

    batchable = [(raw.get("messageId"), _batchable(raw)) for raw in records]
    messages = [(message_id, message) for message_id, message in batchable if message is not None]
    if not messages:
        return set()
    try:
        handled = submit_background([message for _, message in messages], deps)
    except Exception:
        logger.exception("message batch submission failed: generating directly")
        return set()
    metrics.add_metric(name="BatchSubmitted", unit=MetricUnit.Count, value=len(handled))
    return {str(message_id) for message_id, message in messages if message.entry_id in handled}


def _batchable(raw: dict[str, Any]) -> JobMessage | SectionMessage | JudgementMessage | None:
    """A background content job, a background course's pending part or alignment judgement, or an exam top-up's
    section, that may go to a Message Batch. Interactive work (a learner's first exam, an exam promoted for a
    waiting learner), batch fallbacks and anything malformed are generated directly (where a malformed record
    fails with its reason)."""
    try:
        record = JobRecord.model_validate(raw)
        if lane_of(record.eventSourceARN) is not Lane.BACKGROUND:
            return None
        message = parse_message(record.body)
    except ValueError:
        return None
    if isinstance(message, CoursePartMessage):
        from pregen.services.course_generation import batchable_part

        try:
            return batchable_part(message, course_worker_deps())
        except Exception:  # its reads or job record failed: the part is generated directly, with its own errors
            logger.exception("course part not batchable", course_id=message.course_id, part_id=message.part_id)
            return None
    if isinstance(message, JobMessage | SectionMessage | JudgementMessage) and not message.direct:
        return message
    return None


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    batched = submit_to_batches(event.get("Records") or [])
    rest = [r for r in event.get("Records") or [] if r.get("messageId") not in batched]
    if not rest:
        return {"batchItemFailures": []}
    event = {**event, "Records": rest}
    # A batch whose every record failed is still a partial response (all listed), not a function error: the
    # failures are the records', and the function's Errors alarm stays for the function itself breaking. One
    # processor per invocation, since it keeps the batch's state.
    processor = BatchProcessor(event_type=EventType.SQS, model=JobRecord, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
