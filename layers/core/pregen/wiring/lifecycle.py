"""The worker's lifecycle: the admission, and each kind of queued work with the deps it loads on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.config.base import load
from pregen.config.worker import WorkerSettings
from pregen.domain.models import Kind
from pregen.domain.spend import JUDGEMENT_STEP, PLAN_STEP
from pregen.messages import CONTENT_JOB, COURSE_JUDGEMENT, COURSE_PART, COURSE_PLAN, EXAM_SECTION, LEARNER_ERASE
from pregen.services.lifecycle import CeilingAdmission, Lifecycle, TimeAdmission
from pregen.services.provider_budget import ProviderBudget, TokenBudgetAdmission
from pregen.services.work_kinds import ContentJobs, CourseJudgements, CourseWork, Erasures, ExamSections
from pregen.wiring.cache import once
from pregen.wiring.worker import batch_deps, course_worker_deps, exam_worker_deps, worker_deps

if TYPE_CHECKING:
    from pregen.services.learners import LearnerDataDeps
    from pregen.services.lifecycle import Admission, WorkKind


def _learner_data_deps() -> LearnerDataDeps:
    from pregen.wiring.learners import learner_data_deps

    return learner_data_deps()


@once
def lifecycle() -> Lifecycle:
    """The daily spend ceiling (when set), then the provider's token budget (when on), then the time left; failures
    backed off and failed for good by the worker's policy."""
    s = load(WorkerSettings)
    deps = worker_deps()
    admission: Admission = TimeAdmission()
    if s.provider_budget:
        admission = TokenBudgetAdmission(budget=provider_budget(), then=admission)
    if s.daily_spend_ceiling_usd:
        from pregen.services.limits import SpendCeiling

        # Read at most every 10 s per environment: a background batch stops within about one unit of the ceiling.
        ceiling = SpendCeiling(s.daily_spend_ceiling_usd, deps.counters, cache_s=10.0)
        admission = CeilingAdmission(ceiling=ceiling, clock=deps.clock, then=admission)
    policy = deps.policy  # every lane's queues share the worker's maxReceiveCount and its backoff
    return Lifecycle(
        queue=deps.queue,
        admission=admission,
        clock=deps.clock,
        max_receive_count=policy.max_receive_count,
        retry_base_delay_s=policy.retry_base_delay_s,
    )


@once
def provider_budget() -> ProviderBudget:
    """The shared budget of the models this worker calls, in the counters table."""
    from pregen.adapters.provider_budget import DynamoProviderBudget
    from pregen.wiring import clients

    s = load(WorkerSettings)
    tiers = {s.model_large: s.tier_large(), s.model_small: s.tier_small()}
    return ProviderBudget(
        store=DynamoProviderBudget(s.counters_table, clients.dynamodb()),
        clock=worker_deps().clock,
        tiers=tiers,
        default_tier=s.tier_large(),
        interactive_share=s.interactive_share,
    )


@once
def work_kinds() -> dict[str, WorkKind]:
    """The kind of work for each message type (``pregen.messages``)."""
    s = load(WorkerSettings)
    courses = CourseWork(
        course_worker_deps, s.model_for, s.model_for(Kind.LESSON, PLAN_STEP), s.max_generation_attempts
    )
    return {
        CONTENT_JOB: ContentJobs(worker_deps, s.model_for, s.max_generation_attempts, batches=batch_deps),
        EXAM_SECTION: ExamSections(exam_worker_deps, s.model_for, s.max_generation_attempts),
        COURSE_PLAN: courses,
        COURSE_PART: courses,
        LEARNER_ERASE: Erasures(_learner_data_deps),
        COURSE_JUDGEMENT: CourseJudgements(course_worker_deps, s.model_for(Kind.QUESTION_SET, JUDGEMENT_STEP)),
    }
