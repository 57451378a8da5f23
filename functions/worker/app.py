"""worker: generate the content of each queued job; failed records are reported one by one (partial batch)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from pregen import telemetry
from pregen.models import Priority
from pregen.observability import logger, metrics
from pregen.services.generation import JobMessage, generate_job
from pregen.tracing import tracer
from pregen.wiring import worker_deps


class JobRecord(SqsRecordModel):
    body: Json[JobMessage]  # type: ignore[assignment]


# A batch whose every record failed is still a partial response (all listed), not a function error: the
# failures are the records', and the function's Errors alarm stays for the function itself breaking.
processor = BatchProcessor(event_type=EventType.SQS, model=JobRecord, raise_on_entire_batch_failure=False)
_invocation: dict[str, str] = {"request_id": "local"}


def record_handler(record: JobRecord) -> str:
    message = record.body
    # Every log line of this record carries the request's correlation id, the job id and the content key.
    logger.append_keys(job_id=message.job_id, key=message.key, correlation_id=message.correlation_id)
    kind = str(message.request.get("kind", "unknown"))
    lane = Priority.lane(message.priority).value
    deps = worker_deps()
    receive_count = int(record.attributes.ApproximateReceiveCount)
    try:
        outcome = generate_job(
            message,
            receive_count=receive_count,
            worker_id=f"{_invocation['request_id']}:{record.messageId}",
            deps=deps,
        )
    except Exception:
        metrics.add_metric(name="GenerationFailed", unit=MetricUnit.Count, value=1)
        final = receive_count >= deps.max_receive_count
        telemetry.job_outcome(kind, lane, "failed" if final else "retry")
        raise
    finally:
        logger.remove_keys(["job_id", "key", "correlation_id"])
    metrics.add_metric(name=f"Job_{outcome}", unit=MetricUnit.Count, value=1)
    telemetry.job_outcome(kind, lane, outcome)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    _invocation["request_id"] = getattr(context, "aws_request_id", "local")
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
