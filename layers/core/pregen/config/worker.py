"""The worker's settings: model tiers, batches, throttling, TTLs and the generator (see ``pregen.config.settings``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from pregen.config.base import Env
from pregen.config.settings import (
    ContentTableSettings,
    CountersTableSettings,
    JobsTableSettings,
    ModelSettings,
    NearDuplicateSettings,
    QueueSettings,
    SpendCeilingSettings,
    json_object,
)
from pregen.domain.model_time import ModelLatency
from pregen.domain.models import Kind  # noqa: TC001 (pydantic reads the field annotations at run time)
from pregen.domain.provider_limits import TIER_4_LARGE, TIER_4_SMALL, Spend


class CostSettings(ModelSettings):
    """Model tiers (``ModelSettings``, shared with the request side that prices work), Message Batches for the
    background lane."""

    batch_background: bool = Field(alias="BATCH_BACKGROUND", default=False)


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

    _ttl_map = field_validator("content_ttl_days_by_kind", mode="before")(json_object)

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


class ProviderLimitSettings(Env):
    """The model provider's tier per model, per minute (``pregen.services.provider_budget``): output tokens, input
    tokens and requests for the large and the small model. Defaults: Anthropic's Tier 4 (``TIER_4_LARGE`` and
    ``TIER_4_SMALL``). ``INTERACTIVE_SHARE`` of every minute is kept for learners. ``PROVIDER_BUDGET=false`` turns
    the shared budget off (local runs without a provider)."""

    provider_budget: bool = Field(alias="PROVIDER_BUDGET", default=False)
    large_output_tpm: int = Field(alias="LARGE_OUTPUT_TPM", default=TIER_4_LARGE.output_tokens, ge=1)
    large_input_tpm: int = Field(alias="LARGE_INPUT_TPM", default=TIER_4_LARGE.input_tokens, ge=1)
    large_rpm: int = Field(alias="LARGE_RPM", default=TIER_4_LARGE.requests, ge=1)
    small_output_tpm: int = Field(alias="SMALL_OUTPUT_TPM", default=TIER_4_SMALL.output_tokens, ge=1)
    small_input_tpm: int = Field(alias="SMALL_INPUT_TPM", default=TIER_4_SMALL.input_tokens, ge=1)
    small_rpm: int = Field(alias="SMALL_RPM", default=TIER_4_SMALL.requests, ge=1)
    interactive_share: float = Field(alias="INTERACTIVE_SHARE", default=0.3, ge=0, le=0.9)

    def tier_large(self) -> Spend:
        return Spend(self.large_output_tpm, self.large_input_tpm, self.large_rpm)

    def tier_small(self) -> Spend:
        return Spend(self.small_output_tpm, self.small_input_tpm, self.small_rpm)


class WorkerSettings(
    ContentTableSettings,
    JobsTableSettings,
    CountersTableSettings,
    QueueSettings,
    CostSettings,
    GenerationPolicy,
    ModelLatencySettings,
    SpendCeilingSettings,
    ProviderLimitSettings,
    NearDuplicateSettings,
):
    max_generation_attempts: int = Field(alias="MAX_GENERATION_ATTEMPTS", default=3, ge=1, le=10)
    anthropic_api_key: str | None = Field(alias="ANTHROPIC_API_KEY", default=None)
    anthropic_api_key_parameter: str | None = Field(alias="ANTHROPIC_API_KEY_PARAMETER", default=None)
    anthropic_base_url: str | None = Field(alias="ANTHROPIC_BASE_URL", default=None)
