"""worker: generate the content of each queued job; failed records are reported one by one (partial batch)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from pregen.observability import logger, metrics, tracer
from pregen.services.exam_generation import SectionMessage, generate_exam_section
from pregen.services.generation import JobMessage, generate_job
from pregen.wiring import exam_worker_deps, worker_deps


class JobRecord(SqsRecordModel):
    # Content jobs (no "type") and exam sections ("type": "exam_section") share the lanes; the body is parsed
    # by kind in record_handler, so a malformed body still fails only its own record.
    body: Json[dict[str, Any]]  # type: ignore[assignment]


# A batch whose every record failed is still a partial response (all listed), not a function error: the
# failures are the records', and the function's Errors alarm stays for the function itself breaking.
processor = BatchProcessor(event_type=EventType.SQS, model=JobRecord, raise_on_entire_batch_failure=False)
_invocation: dict[str, str] = {"request_id": "local"}


def record_handler(record: JobRecord) -> str:
    if record.body.get("type") == "exam_section":
        return section_handler(record)
    message = JobMessage.model_validate(record.body)
    logger.append_keys(job_id=message.job_id, key=message.key, correlation_id=message.correlation_id)
    try:
        outcome = generate_job(
            message,
            receive_count=int(record.attributes.ApproximateReceiveCount),
            worker_id=f"{_invocation['request_id']}:{record.messageId}",
            deps=worker_deps(),
        )
    except Exception:
        metrics.add_metric(name="GenerationFailed", unit=MetricUnit.Count, value=1)
        raise
    finally:
        logger.remove_keys(["job_id", "key", "correlation_id"])
    metrics.add_metric(name=f"Job_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


def section_handler(record: JobRecord) -> str:
    message = SectionMessage.model_validate(record.body)
    spec = message.spec
    logger.append_keys(exam_id=spec.exam_id, section=spec.index, correlation_id=message.correlation_id)
    try:
        outcome = generate_exam_section(
            message,
            receive_count=int(record.attributes.ApproximateReceiveCount),
            worker_id=f"{_invocation['request_id']}:{record.messageId}",
            deps=exam_worker_deps(),
        )
    except Exception:
        metrics.add_metric(name="ExamSectionFailed", unit=MetricUnit.Count, value=1)
        raise
    finally:
        logger.remove_keys(["exam_id", "section", "correlation_id"])
    metrics.add_metric(name=f"Exam_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    _invocation["request_id"] = getattr(context, "aws_request_id", "local")
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
