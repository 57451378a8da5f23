"""worker: generate the content of each queued job; failed records are reported one by one (partial batch)."""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from pregen import telemetry
from pregen.config.base import load
from pregen.config.worker import WorkerSettings
from pregen.domain.models import Lane
from pregen.messages import (
    CoursePartMessage,
    CoursePlanMessage,
    EraseMessage,
    JobMessage,
    SectionMessage,
    parse_message,
)
from pregen.observability import logger, metrics
from pregen.services.generation import generate_job, hand_back
from pregen.wiring.priming import prime
from pregen.wiring.worker import batch_deps, course_worker_deps, exam_worker_deps, worker_deps


class JobRecord(SqsRecordModel):
    # Content jobs and exam sections share the lanes (pregen.messages); the body is parsed in record_handler, so a
    # malformed body still fails only its own record.
    body: Json[dict[str, Any]]  # type: ignore[assignment]


prime(worker_deps)  # in init: settings, clients, service models and the generator, not in the first batch
# A generation with re-asks can take a couple of minutes; a record started with less time left than this is
# handed back to its lane instead (background chunks of 10 run one after the other in a 300 s invocation).
HAND_BACK_BELOW_MS = 120_000


def _worker_id(record: JobRecord, context: Any) -> str:
    """Who holds a lease: this invocation (its request id) and the record (its message id), so two deliveries of
    one message, in two invocations, are two holders."""
    return f"{getattr(context, 'aws_request_id', 'local')}:{record.messageId}"


def _time_left_ms(context: Any) -> int | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return int(remaining()) if callable(remaining) else None


def record_handler(record: JobRecord, lambda_context: Any = None) -> str:
    """One record; Powertools' batch processor passes the invocation's context as ``lambda_context``."""
    message = parse_message(record.body)
    if isinstance(message, SectionMessage):
        return section_handler(record, message, lambda_context)
    if isinstance(message, CoursePlanMessage | CoursePartMessage):
        return course_handler(record, message, lambda_context)
    if isinstance(message, EraseMessage):
        return erase_handler(message)
    # Every log line of this record carries the request's correlation id, the job id and the content key.
    logger.append_keys(job_id=message.job_id, key=message.key, correlation_id=message.correlation_id)
    kind = str(message.request.get("kind", "unknown"))
    lane = lane_of(record.eventSourceARN)
    deps = worker_deps()
    receive_count = int(record.attributes.ApproximateReceiveCount)
    left = _time_left_ms(lambda_context)
    if left is not None and left < HAND_BACK_BELOW_MS:
        handed = hand_back(message, lane, deps)
        logger.remove_keys(["job_id", "key", "correlation_id"])
        metrics.add_metric(name=f"Job_{handed}", unit=MetricUnit.Count, value=1)
        return handed
    try:
        outcome = generate_job(
            message,
            receive_count=receive_count,
            worker_id=_worker_id(record, lambda_context),
            deps=deps,
            lane=lane,
            receipt_handle=record.receiptHandle,
        )
    except Exception:
        metrics.add_metric(name="GenerationFailed", unit=MetricUnit.Count, value=1)
        final = receive_count >= deps.policy.max_receive_count
        telemetry.job_outcome(kind, lane.value, "failed" if final else "retry")
        raise
    finally:
        logger.remove_keys(["job_id", "key", "correlation_id"])
    metrics.add_metric(name=f"Job_{outcome}", unit=MetricUnit.Count, value=1)
    telemetry.job_outcome(kind, lane.value, outcome)
    return outcome


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

    messages = [message for message in map(_batchable, records) if message is not None]
    if not messages:
        return set()
    try:
        handled = submit_background(messages, deps)
    except Exception:
        logger.exception("message batch submission failed: generating directly")
        return set()
    metrics.add_metric(name="BatchSubmitted", unit=MetricUnit.Count, value=len(handled))
    return {raw["messageId"] for raw in records if _job_id(raw) in handled}


def _batchable(raw: dict[str, Any]) -> JobMessage | None:
    """A background content job that may go to a Message Batch. Exam sections, interactive work, batch fallbacks
    and anything malformed are generated directly (where a malformed record fails with its reason)."""
    try:
        record = JobRecord.model_validate(raw)
        if lane_of(record.eventSourceARN) is not Lane.BACKGROUND:
            return None
        message = parse_message(record.body)
    except ValueError:
        return None
    return message if isinstance(message, JobMessage) and not message.direct else None


def _job_id(raw: dict[str, Any]) -> str | None:
    try:
        job_id = JobRecord.model_validate(raw).body.get("job_id")
    except ValueError:
        return None
    return str(job_id) if job_id is not None else None


def section_handler(record: JobRecord, message: SectionMessage, context: Any) -> str:
    # The exam machinery (programs, blueprints, inventory) loads with the first section a container handles, so
    # a container that only generates lessons and quizzes never pays for it at cold start.
    from pregen.services.exam_generation import generate_exam_section

    spec = message.spec
    logger.append_keys(exam_id=spec.exam_id, section=spec.index, correlation_id=message.correlation_id)
    try:
        outcome = generate_exam_section(
            message,
            receive_count=int(record.attributes.ApproximateReceiveCount),
            worker_id=_worker_id(record, context),
            deps=exam_worker_deps(),
        )
    except Exception:
        metrics.add_metric(name="ExamSectionFailed", unit=MetricUnit.Count, value=1)
        raise
    finally:
        logger.remove_keys(["exam_id", "section", "correlation_id"])
    metrics.add_metric(name=f"Exam_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


def course_handler(record: JobRecord, message: CoursePlanMessage | CoursePartMessage, context: Any) -> str:
    # Like exam sections, the course machinery loads with the first course message a container handles.
    from pregen.services.course_generation import generate_part, plan_course

    logger.append_keys(course_id=message.course_id, correlation_id=message.correlation_id)
    receive_count = int(record.attributes.ApproximateReceiveCount)
    worker_id = _worker_id(record, context)
    lane = lane_of(record.eventSourceARN)
    deps = course_worker_deps()
    try:
        if isinstance(message, CoursePlanMessage):
            outcome = plan_course(message, receive_count=receive_count, worker_id=worker_id, deps=deps, lane=lane)
        else:
            logger.append_keys(part_id=message.part_id, job_id=message.job_id, key=message.key)
            outcome = generate_part(
                message,
                receive_count=receive_count,
                worker_id=worker_id,
                deps=deps,
                lane=lane,
                receipt_handle=record.receiptHandle,
            )
    except Exception:
        metrics.add_metric(name="CourseWorkFailed", unit=MetricUnit.Count, value=1)
        raise
    finally:
        logger.remove_keys(["course_id", "correlation_id", "part_id", "job_id", "key"])
    metrics.add_metric(name=f"Course_{outcome}", unit=MetricUnit.Count, value=1)
    return outcome


def erase_handler(message: EraseMessage) -> str:
    # Loaded with the first erasure a container handles, like the exam machinery.
    from pregen.services.learners import erase_pass
    from pregen.wiring.learners import learner_data_deps

    logger.append_keys(correlation_id=message.correlation_id)
    try:
        outcome = erase_pass(message, learner_data_deps())
    finally:
        logger.remove_keys(["correlation_id"])
    metrics.add_metric(name="LearnerErasurePass", unit=MetricUnit.Count, value=1)
    return outcome


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
