"""The serving path's settings (get-content, pre-generate) and the mixins every function composes from.

The other functions' classes are in ``pregen.config.functions`` and the worker's in ``pregen.config.worker``:
creating a pydantic class costs about half a millisecond even with ``defer_build``, so get-content does not
create the twenty-odd classes of the others.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator

from pregen.config.base import Env
from pregen.domain.models import Kind, Lane

if TYPE_CHECKING:
    from pregen.domain.limits import RateLimits
    from pregen.domain.spend import Estimator


class ContentTableSettings(Env):
    content_table: str = Field(alias="CONTENT_TABLE", min_length=3)


class JobsTableSettings(Env):
    jobs_table: str = Field(alias="JOBS_TABLE", min_length=3)
    job_ttl_days: int = Field(alias="JOB_TTL_DAYS", default=7, ge=1, le=365)


class CountersTableSettings(Env):
    counters_table: str = Field(alias="COUNTERS_TABLE", min_length=3)


class QueueSettings(Env):
    interactive_queue_url: str = Field(alias="INTERACTIVE_QUEUE_URL", min_length=8)
    background_queue_url: str = Field(alias="BACKGROUND_QUEUE_URL", min_length=8)
    # How long a queued key counts as "in flight" before a new miss may enqueue it again (a safety net for
    # a crash between claiming the key and sending the message; the worker's lease still prevents a 2nd generation).
    inflight_seconds: int = Field(alias="INFLIGHT_SECONDS", default=3600, ge=60)
    retry_after_seconds: int = Field(alias="RETRY_AFTER_SECONDS", default=3, ge=1, le=120)

    def queue_url(self, lane: Lane) -> str:
        return self.interactive_queue_url if lane is Lane.INTERACTIVE else self.background_queue_url


def json_object(value: Any) -> Any:
    """An environment variable holding a JSON object (blank: none)."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value


class ModelSettings(Env):
    """Which model each kind (and each step of a kind) uses: the worker calls it, the request side prices with it."""

    model_large: str = Field(alias="MODEL_LARGE", default="claude-sonnet-5-5")
    model_small: str = Field(alias="MODEL_SMALL", default="claude-haiku-5-5")
    model_by_kind: dict[Kind, str] = Field(alias="MODEL_BY_KIND", default_factory=dict)
    # Tier per kind, or per step of a kind ("exam.sections"); "large" or "small". Looked up step first, then kind.
    model_tiers: dict[str, Literal["large", "small"]] = Field(alias="MODEL_TIERS", default_factory=dict)

    _model_map = field_validator("model_by_kind", mode="before")(json_object)

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

    def model_for(self, kind: Kind, step: str | None = None) -> str:
        """Exams are the long, structured work: the large model. Lessons and small sets: the small one.
        MODEL_BY_KIND (a model name per kind) wins; else MODEL_TIERS (a tier per kind or step). A judgement step
        (the course alignment judgement) is a small-tier check whatever its kind's model, unless MODEL_TIERS names
        the step itself."""
        from pregen.domain.spend import JUDGEMENT_STEP

        if step == JUDGEMENT_STEP:
            judge = self.model_tiers.get(f"{kind.value}.{step}", "small")
            return self.model_large if judge == "large" else self.model_small
        if kind in self.model_by_kind:
            return self.model_by_kind[kind]
        tier = self.tier_for(kind, step)
        if tier is not None:
            return self.model_large if tier == "large" else self.model_small
        return self.model_large if kind is Kind.EXAM else self.model_small


class SpendCeilingSettings(Env):
    """The operator's ceiling on a day's model spend, in US dollars (0: none): past it no new generation starts (the
    request side refuses with 503; the worker hands queued work back until the next day, background work already
    near the ceiling)."""

    daily_spend_ceiling_usd: float = Field(alias="DAILY_SPEND_CEILING_USD", default=0.0, ge=0)


class RateLimitSettings(ModelSettings, SpendCeilingSettings):
    """Spend allowances per role (JSON of dollars, see pregen.domain.limits; roles left out keep their defaults),
    priced with the deployment's models (``ModelSettings``)."""

    rate_limits_json: str = Field(alias="SPEND_ALLOWANCES", default="")

    @field_validator("rate_limits_json")
    @classmethod
    def _valid_limits(cls, value: str) -> str:
        from pregen.domain.limits import RateLimits

        RateLimits.model_validate(json.loads(value) if value.strip() else {})
        return value

    def rate_limits(self) -> RateLimits:
        from pregen.domain.limits import RateLimits

        return RateLimits.model_validate(json.loads(self.rate_limits_json) if self.rate_limits_json.strip() else {})

    def estimator(self) -> Estimator:
        from pregen.domain.pricing import default_prices
        from pregen.domain.spend import Estimator

        return Estimator(prices=default_prices(), model_for=self.model_for)


DEFAULT_ROLE_CLAIM = "cognito:groups"


class IdentitySettings(Env):
    """Every API function: the ONE verified claim that carries the caller's roles (a list, or a single role name).
    Cognito's ``cognito:groups`` by default; another identity provider names its own claim. It must be a claim
    the user cannot write (not a Cognito ``custom:`` attribute an app client may update)."""

    role_claim: str = Field(alias="ROLE_CLAIM", default=DEFAULT_ROLE_CLAIM, min_length=1)


class HotCacheSettings(Env):
    """The hot-key cache of get-content's warm environments (``pregen.adapters.hot_content``): how long a shared
    item read from the content table is answered from memory -- the staleness allowed after a vote or a
    regeneration changes the served version -- and how many items are kept. 0 seconds turns it off. The same
    environments' memory of in-flight markers (``JOIN_MEMO_SECONDS``) keeps as many keys."""

    hot_cache_seconds: float = Field(alias="HOT_CACHE_SECONDS", default=5.0, ge=0, le=60)
    hot_cache_items: int = Field(alias="HOT_CACHE_ITEMS", default=256, ge=1, le=10_000)
    # A miss of a shared key whose in-flight marker the environment saw less than this ago joins that job without
    # the claim's write (pregen.services.recent_markers): the longest a job failed for good is still joined. 0: off.
    join_memo_seconds: float = Field(alias="JOIN_MEMO_SECONDS", default=2.0, ge=0, le=60)


class NearDuplicateSettings(Env):
    """Near-duplicate requests served from the library once verified (issue 33, ``pregen.services.near``): on by
    default; an alias item lives at most ``ALIAS_TTL_DAYS`` (and never past its target's content)."""

    near_duplicates: bool = Field(alias="NEAR_DUPLICATES", default=True)
    alias_ttl_days: int = Field(alias="ALIAS_TTL_DAYS", default=30, ge=1, le=365)


class ServeSettings(
    ContentTableSettings,
    JobsTableSettings,
    CountersTableSettings,
    QueueSettings,
    RateLimitSettings,
    HotCacheSettings,
    NearDuplicateSettings,
):
    """get-content and pre-generate: read content, enqueue or join jobs."""
