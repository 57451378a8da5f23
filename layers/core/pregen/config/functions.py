"""Settings of the functions other than get-content, pre-generate and the worker (see ``pregen.config.settings``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from pregen.config.base import Env
from pregen.config.settings import (
    ContentTableSettings,
    CountersTableSettings,
    IdentitySettings,
    JobsTableSettings,
    ModelSettings,
    QueueSettings,
    RateLimitSettings,
    ServeSettings,
)
from pregen.config.worker import ProviderLimitSettings


class DeadLetterSettings(Env):
    interactive_dlq_url: str = Field(alias="INTERACTIVE_DLQ_URL", min_length=8)
    background_dlq_url: str = Field(alias="BACKGROUND_DLQ_URL", min_length=8)

    def all_queue_urls(self, queues: QueueSettings) -> dict[str, str]:
        return {
            "interactive": queues.interactive_queue_url,
            "interactive_dlq": self.interactive_dlq_url,
            "background": queues.background_queue_url,
            "background_dlq": self.background_dlq_url,
        }


class LibraryRulesSettings(Env):
    """The shared library's thresholds: auto-approval, and automatic regeneration of voted-down versions."""

    approval_min_net_votes: int = Field(alias="APPROVAL_MIN_NET_VOTES", default=10, ge=1)
    approval_min_ratio: float = Field(alias="APPROVAL_MIN_RATIO", default=0.8, gt=0, le=1)
    regenerate_below_net_votes: int = Field(alias="REGENERATE_BELOW_NET_VOTES", default=-3, le=0)


class LibrarySettings(ServeSettings, LibraryRulesSettings):
    """library: versions, votes and regeneration (an enqueue-or-join, like a miss)."""

    votes_per_minute: int = Field(alias="VOTES_PER_MINUTE", default=10, ge=1, le=1_000)


class ReadyExamSettings(Env):
    """How long a ready exam waits for its claim (analytics reads that far ahead for exam expiries)."""

    exam_ready_ttl_days: int = Field(alias="EXAM_READY_TTL_DAYS", default=7, ge=1, le=90)


class AnalyticsSettings(
    CountersTableSettings, QueueSettings, DeadLetterSettings, ReadyExamSettings, ModelSettings, ProviderLimitSettings
):
    """analytics: counters, queue attributes and (with ``PROVIDER_BUDGET``) the provider budget's minute items."""


class CronSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, DeadLetterSettings):
    """cron: the same reach as the serving path, and the dead-letter queues it settles."""

    lease_seconds: int = Field(alias="LEASE_SECONDS", default=330, ge=10)


class CronRunSettings(JobsTableSettings):
    """Operators' runs of cron tasks: their records (jobs table) and the queue the cron function takes them from."""

    operator_queue_url: str = Field(alias="OPERATOR_QUEUE_URL", min_length=8)
    # A queued run holds its task this long (the queue's wait plus the cron function's timeout, 300 s).
    cron_run_hold_seconds: int = Field(alias="CRON_RUN_HOLD_SECONDS", default=900, ge=60, le=86_400)
    cron_run_ttl_days: int = Field(alias="CRON_RUN_TTL_DAYS", default=3, ge=1, le=30)


class ExamsTableSettings(Env):
    exams_table: str = Field(alias="EXAMS_TABLE", min_length=3)


class InventorySettings(ReadyExamSettings):
    """The exam inventory: target per learner and exam type, expiries, and the cron's top-up bounds."""

    inventory_target: int = Field(alias="INVENTORY_TARGET", default=2, ge=0, le=20)
    exam_claimed_ttl_hours: int = Field(alias="EXAM_CLAIMED_TTL_HOURS", default=24, ge=1, le=24 * 90)
    exam_failed_ttl_hours: int = Field(alias="EXAM_FAILED_TTL_HOURS", default=24, ge=1, le=24 * 90)
    # A generating exam that never finishes (its sections all lost) stops counting after this long.
    exam_generating_hold_hours: int = Field(alias="EXAM_GENERATING_HOLD_HOURS", default=24, ge=1, le=24 * 7)
    exam_retry_after_seconds: int = Field(alias="EXAM_RETRY_AFTER_SECONDS", default=10, ge=1, le=600)
    activity_days: int = Field(alias="ACTIVITY_DAYS", default=14, ge=1, le=60)
    topup_page_size: int = Field(alias="TOPUP_PAGE_SIZE", default=25, ge=1, le=1000)
    topup_budget_seconds: float = Field(alias="TOPUP_BUDGET_SECONDS", default=240, ge=0, le=900)
    topup_interval_hours: int = Field(alias="TOPUP_INTERVAL_HOURS", default=6, ge=1, le=168)


class ExamSettings(ExamsTableSettings, CountersTableSettings, QueueSettings, InventorySettings, RateLimitSettings):
    """exams (claim, inventory, read), the cron's top-up, and the worker's section jobs."""


class NavigationTableSettings(Env):
    navigation_table: str = Field(alias="NAVIGATION_TABLE", min_length=3)


class NavigationSettings(ServeSettings, NavigationTableSettings):
    """navigation events: record moves (navigation table) and pre-generate predicted items (serving path)."""


class UsageSettings(CountersTableSettings, ContentTableSettings):
    """usage-aggregator: the counters, and the content table's stats items (hits from the log)."""


class TriggerSettings(IdentitySettings):
    """POST /v1/cron/run: the JWT issuer to verify admins against (and the claim of their roles), and the cron
    secret."""

    jwt_issuer: str = Field(alias="JWT_ISSUER", min_length=1)
    jwt_audience: str = Field(alias="JWT_AUDIENCE", min_length=1)
    # Default: the issuer's /.well-known/jwks.json (an issuer written with a trailing slash is not doubled).
    jwt_jwks_url: str | None = Field(alias="JWT_JWKS_URL", default=None, min_length=8)
    cron_secret: str | None = Field(alias="CRON_SECRET", default=None)
    cron_secret_parameter: str | None = Field(alias="CRON_SECRET_PARAMETER", default=None)

    @property
    def jwks_url(self) -> str:
        return self.jwt_jwks_url or f"{self.jwt_issuer.rstrip('/')}/.well-known/jwks.json"


class CoursePolicy(Env):
    """Courses (issue 18): how long a course is kept, when a caller asks again, how parts wait for a key another
    job is generating, and how long an Idempotency-Key answers with the same course."""

    course_ttl_days: int = Field(alias="COURSE_TTL_DAYS", default=90, ge=1, le=3650)
    course_retry_after_seconds: int = Field(alias="COURSE_RETRY_AFTER_SECONDS", default=5, ge=1, le=600)
    course_part_wait_seconds: int = Field(alias="COURSE_PART_WAIT_SECONDS", default=3, ge=0, le=900)
    # 200 waits of 3 s: ten minutes for another job to finish a shared key before the part fails.
    course_max_waits: int = Field(alias="COURSE_MAX_WAITS", default=200, ge=1, le=10_000)
    course_assembly_lease_seconds: int = Field(alias="COURSE_ASSEMBLY_LEASE_SECONDS", default=120, ge=10, le=900)
    idempotency_hours: int = Field(alias="IDEMPOTENCY_HOURS", default=24, ge=1, le=24 * 7)
    # The largest course a student may have generated in the interactive lane (a 4 x 5 course with brain bytes and
    # assessments is 44 parts): past it a student's course goes to the background lane (Message Batches).
    course_student_interactive_parts: int = Field(alias="COURSE_STUDENT_INTERACTIVE_PARTS", default=50, ge=0, le=10_000)
    # The alignment judgement of each assessment (a small-tier call, cached; charged with the course): off, the
    # course's objectives_aligned check says "not judged".
    course_alignment_judge: bool = Field(alias="COURSE_ALIGNMENT_JUDGE", default=True)


class CourseSettings(
    ExamsTableSettings, ContentTableSettings, CountersTableSettings, QueueSettings, RateLimitSettings, CoursePolicy
):
    """courses (ask, read, list, retry, share, pin; in the exams table, the parts' live versions in the content
    table) and the worker's course plan and part jobs."""


class LearnerDataSettings(
    ContentTableSettings, JobsTableSettings, CountersTableSettings, ExamsTableSettings, QueueSettings
):
    """A learner's data: listing (the learners function) and erasure (its passes run in the worker)."""

    # The second pass waits out any generation in flight: longer than the worker's lease (LEASE_SECONDS, 180).
    # After the longest generation that may be in flight: the worker's timeout (pregen.domain.work_budget).
    erase_second_pass_seconds: int = Field(alias="ERASE_SECOND_PASS_SECONDS", default=900, ge=0, le=900)


class CursorKeySettings(Env):
    """The key that signs the listings' cursors (``pregen.domain.cursors``): a Secrets Manager secret the stack
    generates (its ARN in ``CURSOR_KEY_SECRET``), or locally and in tests the key itself (``CURSOR_KEY``)."""

    cursor_key: str | None = Field(alias="CURSOR_KEY", default=None)
    cursor_key_secret: str | None = Field(alias="CURSOR_KEY_SECRET", default=None)

    @model_validator(mode="after")
    def _one_source(self) -> CursorKeySettings:
        if not self.cursor_key and not self.cursor_key_secret:
            raise ValueError("no cursor key: set CURSOR_KEY_SECRET (the stack's secret) or, locally, CURSOR_KEY")
        return self


class NotifySettings(Env):
    """The bus the notify function puts Pregen's events on (``pregen.domain.notifications``)."""

    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)


class WebhookSettings(Env):
    """Where the webhook function forwards the bus's events, and the key that signs them
    (``pregen.domain.webhooks``): the stack's Secrets Manager secret (``WEBHOOK_SECRET``, its ARN) on AWS, or
    locally and in tests the key itself (``WEBHOOK_KEY``)."""

    webhook_url: str = Field(alias="WEBHOOK_URL", pattern=r"^https?://\S+$")
    webhook_key: str | None = Field(alias="WEBHOOK_KEY", default=None)
    webhook_secret: str | None = Field(alias="WEBHOOK_SECRET", default=None)
    timeout_seconds: float = Field(alias="WEBHOOK_TIMEOUT_SECONDS", default=5, gt=0, le=30)

    @model_validator(mode="after")
    def _one_source(self) -> WebhookSettings:
        if not self.webhook_key and not self.webhook_secret:
            raise ValueError("no webhook key: set WEBHOOK_SECRET (the stack's secret) or, locally, WEBHOOK_KEY")
        return self
