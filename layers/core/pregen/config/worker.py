"""The worker's settings: model tiers, batches, throttling, TTLs and the generator (see ``pregen.config.settings``)."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from pregen.config.base import Env
from pregen.config.settings import ContentTableSettings, CountersTableSettings, JobsTableSettings, QueueSettings
from pregen.domain.model_time import ModelLatency
from pregen.domain.models import Kind


def _json_object(value: Any) -> Any:
    """An environment variable holding a JSON object (blank: none)."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value


class CostSettings(Env):
    """Model tiers, Message Batches for the background lane, and how throttled jobs are delayed (issue: costs)."""

    # Tier per kind, or per step of a kind ("exam.sections"); "large" or "small". Looked up step first, then kind.
    model_tiers: dict[str, Literal["large", "small"]] = Field(alias="MODEL_TIERS", default_factory=dict)
    batch_background: bool = Field(alias="BATCH_BACKGROUND", default=False)

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


class GenerationPolicy(Env):
    """How the worker treats a job: how long content lives, how long a lease holds, how many deliveries before the
    dead-letter queue, how throttled jobs are delayed. The worker's use case reads these from its deps."""

    content_ttl_days: int = Field(alias="CONTENT_TTL_DAYS", default=30, ge=1, le=3650)
    content_ttl_days_by_kind: dict[Kind, int] = Field(alias="CONTENT_TTL_DAYS_BY_KIND", default_factory=dict)
    lease_seconds: int = Field(alias="LEASE_SECONDS", default=180, ge=10)
    max_receive_count: int = Field(alias="MAX_RECEIVE_COUNT", default=3, ge=1)
    max_throttle_retries: int = Field(alias="MAX_THROTTLE_RETRIES", default=8, ge=0, le=50)
    throttle_base_delay_s: int = Field(alias="THROTTLE_BASE_DELAY_SECONDS", default=30, ge=1, le=900)
    # At most this many model calls per job, across re-asks, the SDK's retries and deliveries.
    max_model_calls: int = Field(alias="MAX_MODEL_CALLS", default=4, ge=1, le=20)
    # A failed delivery comes back after base x 4^(n-1) seconds (10, 40, 160, ...), with jitter, or the provider's
    # retry-after: not after the queue's visibility timeout.
    retry_base_delay_s: int = Field(alias="RETRY_BASE_DELAY_SECONDS", default=10, ge=0, le=900)

    _ttl_map = field_validator("content_ttl_days_by_kind", mode="before")(_json_object)

    def ttl_days(self, kind: Kind) -> int:
        return self.content_ttl_days_by_kind.get(kind, self.content_ttl_days)


class ModelLatencySettings(Env):
    """How long the stand-ins for the model (the offline generator; the fake Messages API takes the same spec on its
    command line) take per call: ``MODEL_LATENCY``, see ``ModelLatency.parse``. Unset: instant, so a deployed stack
    without a key answers at once; `make run` sets ``realistic`` and every test suite and benchmark names its own."""

    model_latency: ModelLatency = Field(alias="MODEL_LATENCY", default_factory=lambda: ModelLatency.parse("instant"))

    @field_validator("model_latency", mode="before")
    @classmethod
    def _parse_latency(cls, value: Any) -> Any:
        return ModelLatency.parse(value) if isinstance(value, str) else value


class WorkerSettings(
    ContentTableSettings,
    JobsTableSettings,
    CountersTableSettings,
    QueueSettings,
    CostSettings,
    GenerationPolicy,
    ModelLatencySettings,
):
    max_generation_attempts: int = Field(alias="MAX_GENERATION_ATTEMPTS", default=3, ge=1, le=10)
    model_large: str = Field(alias="MODEL_LARGE", default="claude-sonnet-5-5")
    model_small: str = Field(alias="MODEL_SMALL", default="claude-haiku-5-5")
    model_by_kind: dict[Kind, str] = Field(alias="MODEL_BY_KIND", default_factory=dict)
    anthropic_api_key: str | None = Field(alias="ANTHROPIC_API_KEY", default=None)
    anthropic_api_key_parameter: str | None = Field(alias="ANTHROPIC_API_KEY_PARAMETER", default=None)
    anthropic_base_url: str | None = Field(alias="ANTHROPIC_BASE_URL", default=None)

    _model_map = field_validator("model_by_kind", mode="before")(_json_object)

    def model_for(self, kind: Kind, step: str | None = None) -> str:
        """Exams are the long, structured work: the large model. Lessons and small sets: the small one.
        MODEL_BY_KIND (a model name per kind) wins; else MODEL_TIERS (a tier per kind or step)."""
        if kind in self.model_by_kind:
            return self.model_by_kind[kind]
        tier = self.tier_for(kind, step)
        if tier is not None:
            return self.model_large if tier == "large" else self.model_small
        return self.model_large if kind is Kind.EXAM else self.model_small
