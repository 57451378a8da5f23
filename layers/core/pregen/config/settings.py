"""Configuration read from the environment once per cold start, validated, failing loudly when incomplete.

Each function composes the mixins it needs, so a function only demands the resources it uses.
Resource names have no defaults: a missing one is a deployment error, not something to guess.

The serving path's settings live here; the worker's (``config.worker``) and the other functions'
(``config.functions``) are imported by their accessors. Creating a pydantic class costs about half a
millisecond even with ``defer_build``, so a function does not create the twenty-odd classes of the others.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pregen.domain.models import Lane

if TYPE_CHECKING:
    from pregen.config.functions import (
        AnalyticsSettings,
        CronSettings,
        ExamSettings,
        LibrarySettings,
        NavigationSettings,
        TriggerSettings,
        UsageSettings,
    )
    from pregen.config.worker import WorkerSettings
    from pregen.domain.limits import RateLimits


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


class RateLimitSettings(_Env):
    """Generation allowances per role (JSON, see pregen.domain.limits); roles left out keep their defaults."""

    rate_limits_json: str = Field(alias="RATE_LIMITS", default="")

    @field_validator("rate_limits_json")
    @classmethod
    def _valid_limits(cls, value: str) -> str:
        from pregen.domain.limits import RateLimits

        RateLimits.model_validate(json.loads(value) if value.strip() else {})
        return value

    def rate_limits(self) -> RateLimits:
        from pregen.domain.limits import RateLimits

        return RateLimits.model_validate(json.loads(self.rate_limits_json) if self.rate_limits_json.strip() else {})


class ServeSettings(ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, RateLimitSettings):
    """get-content and pre-generate: read content, enqueue or join jobs."""


@lru_cache(maxsize=1)
def exam_settings() -> ExamSettings:
    from pregen.config.functions import ExamSettings

    settings: ExamSettings = ExamSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def navigation_settings() -> NavigationSettings:
    from pregen.config.functions import NavigationSettings

    settings: NavigationSettings = NavigationSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def serve_settings() -> ServeSettings:
    settings: ServeSettings = ServeSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def worker_settings() -> WorkerSettings:
    from pregen.config.worker import WorkerSettings

    settings: WorkerSettings = WorkerSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def library_settings() -> LibrarySettings:
    from pregen.config.functions import LibrarySettings

    settings: LibrarySettings = LibrarySettings.from_env()
    return settings


@lru_cache(maxsize=1)
def analytics_settings() -> AnalyticsSettings:
    from pregen.config.functions import AnalyticsSettings

    settings: AnalyticsSettings = AnalyticsSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def cron_settings() -> CronSettings:
    from pregen.config.functions import CronSettings

    settings: CronSettings = CronSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def usage_settings() -> UsageSettings:
    from pregen.config.functions import UsageSettings

    settings: UsageSettings = UsageSettings.from_env()
    return settings


@lru_cache(maxsize=1)
def trigger_settings() -> TriggerSettings:
    from pregen.config.functions import TriggerSettings

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
