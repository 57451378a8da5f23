"""Configuration read from the environment once per cold start, validated, failing loudly when incomplete.

Each function composes the mixins it needs, so a function only demands the resources it uses.
Resource names have no defaults: a missing one is a deployment error, not something to guess.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pregen.models import Kind, Lane

if TYPE_CHECKING:
    from pregen.limits import RateLimits


class SettingsError(RuntimeError):
    """Raised at cold start when the environment does not describe a complete deployment."""


class _Env(BaseModel):
    # defer_build: a function builds the validator of the one settings class it reads, on first use, not the
    # validators of all of them at import (cold start).
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Any:
        env = dict(os.environ if environ is None else environ)
        try:
            return cls.model_validate(env)
        except ValidationError as exc:
            fields = ", ".join(str(err["loc"][0]) for err in exc.errors())
            raise SettingsError(f"{cls.__name__}: missing or invalid environment variables: {fields}") from exc


class ContentTableSettings(_Env):
    content_table: str = Field(alias="CONTENT_TABLE", min_length=3)


class JobsTableSettings(_Env):
    jobs_table: str = Field(alias="JOBS_TABLE", min_length=3)
    job_ttl_days: int = Field(alias="JOB_TTL_DAYS", default=7, ge=1, le=365)


class CountersTableSettings(_Env):
    counters_table: str = Field(alias="COUNTERS_TABLE", min_length=3)


class QueueSettings(_Env):
    interactive_queue_url: str = Field(alias="INTERACTIVE_QUEUE_URL", min_length=8)
    background_queue_url: str = Field(alias="BACKGROUND_QUEUE_URL", min_length=8)
    # How long a queued key counts as "in flight" before a new miss may enqueue it again (a safety net for
    # a crash between claiming the key and sending the message; the worker's lease still prevents a 2nd generation).
    inflight_seconds: int = Field(alias="INFLIGHT_SECONDS", default=3600, ge=60)
    retry_after_seconds: int = Field(alias="RETRY_AFTER_SECONDS", default=3, ge=1, le=120)

    def queue_url(self, lane: Lane) -> str:
        return self.interactive_queue_url if lane is Lane.INTERACTIVE else self.background_queue_url


class DeadLetterSettings(_Env):
    interactive_dlq_url: str = Field(alias="INTERACTIVE_DLQ_URL", min_length=8)
    background_dlq_url: str = Field(alias="BACKGROUND_DLQ_URL", min_length=8)

    def all_queue_urls(self, queues: QueueSettings) -> dict[str, str]:
        return {
            "interactive": queues.interactive_queue_url,
            "interactive_dlq": self.interactive_dlq_url,
            "background": queues.background_queue_url,
            "background_dlq": self.background_dlq_url,
        }


class RateLimitSettings(_Env):
    """Generation allowances per role (JSON, see pregen.limits); roles left out keep their defaults."""

    rate_limits_json: str = Field(alias="RATE_LIMITS", default="")

    @field_validator("rate_limits_json")
    @classmethod
    def _valid_limits(cls, value: str) -> str:
        from pregen.limits import RateLimits

        RateLimits.model_validate(json.loads(value) if value.strip() else {})
        return value

    def rate_limits(self) -> RateLimits:
        from pregen.limits import RateLimits

        return RateLimits.model_validate(json.loads(self.rate_limits_json) if self.rate_limits_json.strip() else {})


class ServeSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, RateLimitSettings):
    """get-content and pre-generate: read content, enqueue or join jobs."""


class CostSettings(_Env):
    """Model tiers, Message Batches for the background lane, and how throttled jobs are delayed (issue: costs)."""

    # Tier per kind, or per step of a kind ("exam.sections"); "large" or "small". Looked up step first, then kind.
    model_tiers: dict[str, Literal["large", "small"]] = Field(alias="MODEL_TIERS", default_factory=dict)
    batch_background: bool = Field(alias="BATCH_BACKGROUND", default=False)
    max_throttle_retries: int = Field(alias="MAX_THROTTLE_RETRIES", default=8, ge=0, le=50)
    throttle_base_delay_s: int = Field(alias="THROTTLE_BASE_DELAY_SECONDS", default=30, ge=1, le=900)

    @field_validator("model_tiers", mode="before")
    @classmethod
    def _tiers_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if isinstance(value, dict):
            kinds = {k.value for k in Kind}
            unknown = [name for name in value if str(name).split(".", 1)[0] not in kinds]
            if unknown:
                raise ValueError(f"MODEL_TIERS names unknown kinds: {unknown}")
        return value

    def tier_for(self, kind: Kind, step: str | None = None) -> Literal["large", "small"] | None:
        if step and f"{kind.value}.{step}" in self.model_tiers:
            return self.model_tiers[f"{kind.value}.{step}"]
        return self.model_tiers.get(kind.value)


class WorkerSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, CostSettings):
    content_ttl_days: int = Field(alias="CONTENT_TTL_DAYS", default=30, ge=1, le=3650)
    content_ttl_days_by_kind: dict[Kind, int] = Field(alias="CONTENT_TTL_DAYS_BY_KIND", default_factory=dict)
    lease_seconds: int = Field(alias="LEASE_SECONDS", default=180, ge=10)
    max_receive_count: int = Field(alias="MAX_RECEIVE_COUNT", default=3, ge=1)
    max_generation_attempts: int = Field(alias="MAX_GENERATION_ATTEMPTS", default=3, ge=1, le=10)
    model_large: str = Field(alias="MODEL_LARGE", default="claude-sonnet-5-5")
    model_small: str = Field(alias="MODEL_SMALL", default="claude-haiku-5-5")
    model_by_kind: dict[Kind, str] = Field(alias="MODEL_BY_KIND", default_factory=dict)
    anthropic_api_key: str | None = Field(alias="ANTHROPIC_API_KEY", default=None)
    anthropic_api_key_parameter: str | None = Field(alias="ANTHROPIC_API_KEY_PARAMETER", default=None)
    anthropic_base_url: str | None = Field(alias="ANTHROPIC_BASE_URL", default=None)
    # Local runs and benchmarks only: make the offline generator take this long, like a model would.
    offline_latency_s: float = Field(alias="OFFLINE_LATENCY_SECONDS", default=0.0, ge=0, le=600)

    @field_validator("content_ttl_days_by_kind", "model_by_kind", mode="before")
    @classmethod
    def _json_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    def ttl_days(self, kind: Kind) -> int:
        return self.content_ttl_days_by_kind.get(kind, self.content_ttl_days)

    def model_for(self, kind: Kind, step: str | None = None) -> str:
        """Exams are the long, structured work: the large model. Lessons and small sets: the small one.
        MODEL_BY_KIND (a model name per kind) wins; else MODEL_TIERS (a tier per kind or step)."""
        if kind in self.model_by_kind:
            return self.model_by_kind[kind]
        tier = self.tier_for(kind, step)
        if tier is not None:
            return self.model_large if tier == "large" else self.model_small
        return self.model_large if kind is Kind.EXAM else self.model_small


class LibraryRulesSettings(_Env):
    """The shared library's thresholds: auto-approval, and automatic regeneration of voted-down versions."""

    approval_min_net_votes: int = Field(alias="APPROVAL_MIN_NET_VOTES", default=10, ge=1)
    approval_min_ratio: float = Field(alias="APPROVAL_MIN_RATIO", default=0.8, gt=0, le=1)
    regenerate_below_net_votes: int = Field(alias="REGENERATE_BELOW_NET_VOTES", default=-3, le=0)


class LibrarySettings(ServeSettings, LibraryRulesSettings):
    """library: versions, votes and regeneration (an enqueue-or-join, like a miss)."""


class AnalyticsSettings(CountersTableSettings, QueueSettings, DeadLetterSettings):
    """analytics: counters and queue attributes only."""


class CronSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, DeadLetterSettings):
    """cron: the same reach as the serving path; later issues give it more to do."""


class ExamsTableSettings(_Env):
    exams_table: str = Field(alias="EXAMS_TABLE", min_length=3)


class InventorySettings(_Env):
    """The exam inventory: target per learner and exam type, expiries, and the cron's top-up bounds."""

    inventory_target: int = Field(alias="INVENTORY_TARGET", default=2, ge=0, le=20)
    exam_ready_ttl_days: int = Field(alias="EXAM_READY_TTL_DAYS", default=7, ge=1, le=90)
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


@lru_cache(maxsize=1)
def exam_settings() -> ExamSettings:
    settings: ExamSettings = ExamSettings.from_env()
    return settings


class NavigationTableSettings(_Env):
    navigation_table: str = Field(alias="NAVIGATION_TABLE", min_length=3)


class NavigationSettings(ServeSettings, NavigationTableSettings):
    """navigation events: record moves (navigation table) and pre-generate predicted items (serving path)."""


@lru_cache(maxsize=1)
def navigation_settings() -> NavigationSettings:
    settings: NavigationSettings = NavigationSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def serve_settings() -> ServeSettings:
    settings: ServeSettings = ServeSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def worker_settings() -> WorkerSettings:
    settings: WorkerSettings = WorkerSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def library_settings() -> LibrarySettings:
    settings: LibrarySettings = LibrarySettings.from_env()
    return settings


@lru_cache(maxsize=1)
def analytics_settings() -> AnalyticsSettings:
    settings: AnalyticsSettings = AnalyticsSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def cron_settings() -> CronSettings:
    settings: CronSettings = CronSettings.from_env()
    return settings


class UsageSettings(CountersTableSettings, ContentTableSettings):
    """usage-aggregator: the counters, and the content table's stats items (hits from the log)."""


@lru_cache(maxsize=1)
def usage_settings() -> UsageSettings:
    settings: UsageSettings = UsageSettings.from_env()
    return settings


class TriggerSettings(_Env):
    """POST /v1/cron/run: the JWT issuer to verify admins against, and the cron secret."""

    jwt_issuer: str = Field(alias="JWT_ISSUER", min_length=1)
    jwt_audience: str = Field(alias="JWT_AUDIENCE", min_length=1)
    jwt_jwks_url: str = Field(alias="JWT_JWKS_URL", min_length=8)
    cron_secret: str | None = Field(alias="CRON_SECRET", default=None)
    cron_secret_parameter: str | None = Field(alias="CRON_SECRET_PARAMETER", default=None)


@lru_cache(maxsize=1)
def trigger_settings() -> TriggerSettings:
    settings: TriggerSettings = TriggerSettings.from_env()
    return settings


def clear_caches() -> None:
    """For tests that change the environment between cases."""
    for cached in (
        serve_settings,
        worker_settings,
        analytics_settings,
        cron_settings,
        usage_settings,
        library_settings,
        exam_settings,
        navigation_settings,
        trigger_settings,
    ):
        cached.cache_clear()
