"""The kinds of queued work the worker runs, each as the lifecycle sees it (``services.lifecycle.WorkKind``): its
log keys, its estimate (its calls' ``max_tokens`` on its model's tier), its work, which keeps its own lease and
settle in its service, and the record it writes of a failure the lifecycle classified (``settle_failure``). The
exam and course machinery load with their first message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen import telemetry
from pregen.domain.models import Kind
from pregen.domain.work_budget import (
    CALLS_PER_DELIVERY,
    MAX_TOKENS,
    PLAN_MAX_TOKENS,
    SECTION_MAX_TOKENS,
    Estimate,
)
from pregen.services.lifecycle import HandBack

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.messages import (
        CoursePartMessage,
        CoursePlanMessage,
        EraseMessage,
        JobMessage,
        JudgementMessage,
        SectionMessage,
    )
    from pregen.services.batches import BatchDeps
    from pregen.services.course_generation import CourseWorkerDeps
    from pregen.services.exam_generation import ExamWorkerDeps
    from pregen.services.failures import Failure
    from pregen.services.generation import WorkerDeps
    from pregen.services.learners import LearnerDataDeps
    from pregen.services.lifecycle import Delivery


def content_estimate(request: dict[str, Any], model_for: Callable[[Kind], str], calls: int) -> Estimate:
    """A content request's calls at its kind's ``max_tokens`` on its model. A ``kind=exam`` is adjustable: one call
    fits an invocation, its re-asks do not (``pregen.domain.work_budget``). An unknown kind makes no call (its
    request fails validation at once)."""
    try:
        kind = Kind(str(request.get("kind")))
    except ValueError:
        return Estimate()
    return Estimate.of(model_for(kind), MAX_TOKENS[kind], calls, adjustable=kind is Kind.EXAM)


@dataclass
class ContentJobs:
    deps: Callable[[], WorkerDeps]
    model_for: Callable[[Kind], str]
    calls: int = CALLS_PER_DELIVERY
    # Message Batches (None: off): a promoted job's batch answer is collected before any model call.
    batches: Callable[[], BatchDeps | None] | None = None
    name = "content_job"
    metric = "Job"
    failed_metric = "GenerationFailed"

    def log_keys(self, message: JobMessage) -> dict[str, Any]:
        # Every log line of this record carries the request's correlation id, the job id and the content key.
        return {"job_id": message.job_id, "key": message.key, "correlation_id": message.correlation_id}

    def estimate(self, message: JobMessage) -> Estimate:
        return content_estimate(message.request, self.model_for, self.calls)

    def do(self, message: JobMessage, delivery: Delivery) -> str:
        from pregen.services.generation import generate_job

        kind = str(message.request.get("kind", "unknown"))
        if message.batch_id is not None and self.batches is not None and (batches := self.batches()) is not None:
            from pregen.services.batches import collect_promoted

            if collect_promoted(message, batches, delivery.worker_id):
                telemetry.job_outcome(kind, delivery.lane.value, "batch_collected")
                return "batch_collected"
        outcome = generate_job(
            message,
            receive_count=delivery.receive_count,
            worker_id=delivery.worker_id,
            deps=self.deps(),
            lane=delivery.lane,
            max_calls=delivery.max_calls,
        )
        telemetry.job_outcome(kind, delivery.lane.value, outcome)
        return outcome

    def settle_failure(
        self, message: JobMessage, delivery: Delivery, exc: Exception, failure: Failure, next_attempt_at: float | None
    ) -> None:
        from pregen.services.generation import settle_job_failure

        settle_job_failure(message, exc, failure, self.deps(), next_attempt_at)
        kind = str(message.request.get("kind", "unknown"))
        telemetry.job_outcome(kind, delivery.lane.value, "failed" if failure.final else "retry")


@dataclass
class ExamSections:
    deps: Callable[[], ExamWorkerDeps]
    model_for: Callable[[Kind], str]
    calls: int = CALLS_PER_DELIVERY
    name = "exam_section"
    metric = "Exam"
    failed_metric = "ExamSectionFailed"

    def log_keys(self, message: SectionMessage) -> dict[str, Any]:
        return {
            "exam_id": message.spec.exam_id,
            "section": message.spec.index,
            "correlation_id": message.correlation_id,
        }

    def estimate(self, message: SectionMessage) -> Estimate:
        # The assembly that may follow the last section reads and writes the exams table: inside the settling time.
        return Estimate.of(self.model_for(Kind.EXAM), SECTION_MAX_TOKENS, self.calls)

    def do(self, message: SectionMessage, delivery: Delivery) -> str:
        from pregen.services.exam_generation import AssemblyPending, generate_exam_section

        deps = self.deps()
        try:
            return generate_exam_section(
                message, receive_count=delivery.receive_count, worker_id=delivery.worker_id, deps=deps
            )
        except AssemblyPending as exc:
            # Not a failure: the other assembler publishes, or its lease runs out and the next delivery assembles.
            raise HandBack(str(exc), after_s=deps.assembly_lease_seconds) from exc

    def settle_failure(
        self,
        message: SectionMessage,
        delivery: Delivery,
        exc: Exception,
        failure: Failure,
        next_attempt_at: float | None,
    ) -> None:
        from pregen.services.exam_generation import settle_section_failure

        settle_section_failure(message, exc, failure, self.deps())


@dataclass
class CourseWork:
    """Course plans and parts: a plan is one planner call (small tier), a part a content job of its request."""

    deps: Callable[[], CourseWorkerDeps]
    model_for: Callable[[Kind], str]
    plan_model: str
    calls: int = CALLS_PER_DELIVERY
    name = "course"
    metric = "Course"
    failed_metric = "CourseWorkFailed"

    def log_keys(self, message: CoursePlanMessage | CoursePartMessage) -> dict[str, Any]:
        keys: dict[str, Any] = {"course_id": message.course_id, "correlation_id": message.correlation_id}
        if message.type == "course_part":
            keys |= {"part_id": message.part_id, "job_id": message.job_id, "key": message.key}  # type: ignore[union-attr]
        return keys

    def estimate(self, message: CoursePlanMessage | CoursePartMessage) -> Estimate:
        if message.type == "course_part":
            return content_estimate(message.request, self.model_for, self.calls)  # type: ignore[union-attr]
        return Estimate.of(self.plan_model, PLAN_MAX_TOKENS, self.calls)

    def do(self, message: CoursePlanMessage | CoursePartMessage, delivery: Delivery) -> str:
        from pregen.messages import CoursePlanMessage
        from pregen.services.course_generation import generate_part, plan_course

        deps = self.deps()
        if isinstance(message, CoursePlanMessage):
            return plan_course(
                message,
                worker_id=delivery.worker_id,
                deps=deps,
                lane=delivery.lane,
            )
        return generate_part(
            message,
            receive_count=delivery.receive_count,
            worker_id=delivery.worker_id,
            deps=deps,
            lane=delivery.lane,
            max_calls=delivery.max_calls,
        )

    def settle_failure(
        self,
        message: CoursePlanMessage | CoursePartMessage,
        delivery: Delivery,
        exc: Exception,
        failure: Failure,
        next_attempt_at: float | None,
    ) -> None:
        from pregen.services.course_generation import settle_part_failure, settle_plan_failure

        if message.type == "course_part":
            part: CoursePartMessage = message  # type: ignore[assignment]
            settle_part_failure(part, exc, failure, next_attempt_at, worker_id=delivery.worker_id, deps=self.deps())
        else:
            settle_plan_failure(message.course_id, failure, self.deps())


@dataclass
class CourseJudgements:
    """A background course's alignment judgement of one assessment, asked directly (its Message Batch result
    failed): one small-tier structured call, at most two."""

    deps: Callable[[], CourseWorkerDeps]
    judge_model: str
    name = "course_judgement"
    metric = "CourseJudgement"
    failed_metric = "CourseJudgementFailed"

    def log_keys(self, message: JudgementMessage) -> dict[str, Any]:
        return {"course_id": message.course_id, "part_id": message.part_id, "correlation_id": message.correlation_id}

    def estimate(self, message: JudgementMessage) -> Estimate:
        return Estimate.of(self.judge_model, 300 + 80 * len(message.questions), 2)

    def do(self, message: JudgementMessage, delivery: Delivery) -> str:
        from pregen.services.course_generation import judge_directly

        return judge_directly(message, self.deps())

    def settle_failure(
        self,
        message: JudgementMessage,
        delivery: Delivery,
        exc: Exception,
        failure: Failure,
        next_attempt_at: float | None,
    ) -> None:
        if failure.final:  # failed for good: recorded as not judged, with the reason, as a judge's own failure is
            from pregen.services.course_generation import not_judged

            not_judged(message, failure.reason, self.deps())


@dataclass
class Erasures:
    """A learner's erasure pass: no model call, reads and deletes within the settling time."""

    deps: Callable[[], LearnerDataDeps]
    name = "learner_erase"
    metric = "LearnerErasure"
    failed_metric = "LearnerErasureFailed"

    def log_keys(self, message: EraseMessage) -> dict[str, Any]:
        return {"correlation_id": message.correlation_id}

    def estimate(self, message: EraseMessage) -> Estimate:
        return Estimate()

    def do(self, message: EraseMessage, delivery: Delivery) -> str:
        from pregen.services.learners import erase_pass

        return erase_pass(message, self.deps())

    def settle_failure(
        self, message: EraseMessage, delivery: Delivery, exc: Exception, failure: Failure, next_attempt_at: float | None
    ) -> None:
        return None  # no record: the pass comes back after its backoff (erasing twice deletes nothing more)
