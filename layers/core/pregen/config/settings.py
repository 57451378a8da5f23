"""The serving path's settings (get-content, pre-generate) and the mixins every function composes from.

The other functions' classes are in ``pregen.config.functions`` and the worker's in ``pregen.config.worker``:
creating a pydantic class costs about half a millisecond even with ``defer_build``, so get-content does not
create the twenty-odd classes of the others.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from pregen.config.base import Env
from pregen.domain.models import Lane

if TYPE_CHECKING:
    from pregen.domain.limits import RateLimits


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


class RateLimitSettings(Env):
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


class HotCacheSettings(Env):
    """The hot-key cache of get-content's warm environments (``pregen.adapters.hot_content``): how long a shared
    item read from the content table is answered from memory -- the staleness allowed after a vote or a
    regeneration changes the served version -- and how many items are kept. 0 seconds turns it off."""

    hot_cache_seconds: float = Field(alias="HOT_CACHE_SECONDS", default=5.0, ge=0, le=60)
    hot_cache_items: int = Field(alias="HOT_CACHE_ITEMS", default=256, ge=1, le=10_000)


class ServeSettings(
    ContentTableSettings, JobsTableSettings, CountersTableSettings, QueueSettings, RateLimitSettings, HotCacheSettings
):
    """get-content and pre-generate: read content, enqueue or join jobs."""
