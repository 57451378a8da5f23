"""Configuration read from the environment once per cold start, validated, failing loudly when incomplete.

Each function composes the mixins it needs, so a function only demands the resources it uses.
Resource names have no defaults: a missing one is a deployment error, not something to guess.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pregen.models import Kind, Lane


class SettingsError(RuntimeError):
    """Raised at cold start when the environment does not describe a complete deployment."""


class _Env(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

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


class ServeSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings):
    """get-content and pre-generate: read content, enqueue or join jobs."""


class WorkerSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings):
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

    @field_validator("content_ttl_days_by_kind", "model_by_kind", mode="before")
    @classmethod
    def _json_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    def ttl_days(self, kind: Kind) -> int:
        return self.content_ttl_days_by_kind.get(kind, self.content_ttl_days)

    def model_for(self, kind: Kind) -> str:
        """Exams are the long, structured work: the large model. Lessons and small sets: the small one."""
        if kind in self.model_by_kind:
            return self.model_by_kind[kind]
        return self.model_large if kind is Kind.EXAM else self.model_small


class AnalyticsSettings(CountersTableSettings, QueueSettings, DeadLetterSettings):
    """analytics: counters and queue attributes only."""


class CronSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, DeadLetterSettings):
    """cron: the same reach as the serving path; later issues give it more to do."""


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
def analytics_settings() -> AnalyticsSettings:
    settings: AnalyticsSettings = AnalyticsSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def cron_settings() -> CronSettings:
    settings: CronSettings = CronSettings.from_env()
    return settings


def clear_caches() -> None:
    """For tests that change the environment between cases."""
    for cached in (serve_settings, worker_settings, analytics_settings, cron_settings, navigation_settings):
        cached.cache_clear()
