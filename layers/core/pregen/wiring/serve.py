"""get-content, pre-generate and warm: the serving path's dependencies (also the base of library and navigation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.claims import DynamoKeyClaims
from pregen.adapters.content import DynamoContentStore
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.jobs import DynamoJobStore
from pregen.adapters.queue import SqsJobQueue
from pregen.config.base import load
from pregen.config.settings import QueueSettings, ServeSettings
from pregen.domain.clock import SystemClock
from pregen.domain.models import Lane
from pregen.wiring import clients
from pregen.wiring.cache import once

if TYPE_CHECKING:
    from pregen.config.settings import RateLimitSettings
    from pregen.ports import ContentStore, NearStore
    from pregen.services.content import ServeDeps
    from pregen.services.limits import GenerationLimiter


def lanes(s: QueueSettings) -> SqsJobQueue:
    """The two lanes' queues, on the process's SQS client."""
    return SqsJobQueue(
        {Lane.INTERACTIVE: s.interactive_queue_url, Lane.BACKGROUND: s.background_queue_url}, clients.sqs()
    )


def serve_for(s: ServeSettings, *, hot: bool = False) -> ServeDeps:
    """The serving use cases' ports for settings that include the serving path's (library, navigation).
    ``hot``: shared content read a moment ago is answered from memory (``HOT_CACHE_SECONDS``; get-content,
    pre-generate and warm only -- the library reads what it has just written)."""
    from pregen.services.content import ServeDeps  # here, not at the top: the worker never serves

    client = clients.dynamodb()
    store: ContentStore = DynamoContentStore(s.content_table, client)
    if hot and s.hot_cache_seconds > 0:
        from pregen.adapters.hot_content import HotContentStore

        store = HotContentStore(store, ttl_seconds=s.hot_cache_seconds, max_items=s.hot_cache_items)
    jobs = DynamoJobStore(s.jobs_table, s.job_ttl_days, client)
    recent = None
    if s.join_memo_seconds > 0:
        from pregen.services.recent_markers import RecentMarkers

        recent = RecentMarkers(seconds=s.join_memo_seconds, max_items=s.hot_cache_items)
    return ServeDeps(
        store=store,
        jobs=jobs,
        claims=DynamoKeyClaims(s.content_table, jobs, client, counters_table=s.counters_table),
        queue=lanes(s),
        counters=DynamoCounters(s.counters_table, client),
        clock=SystemClock(),
        inflight_seconds=s.inflight_seconds,
        retry_after_seconds=s.retry_after_seconds,
        job_ttl_seconds=s.job_ttl_days * 86_400,
        limiter=generation_limiter(s.counters_table, s),
        keys_side_by_side=True,  # botocore's clients are thread-safe; each key's requests are its own
        near=_aliases(s),
        recent=recent,
    )


def _aliases(s: ServeSettings) -> NearStore | None:
    """Verified aliases of near-duplicate wordings (issue 33), read when an exact key misses; None when off."""
    if not s.near_duplicates:
        return None
    from pregen.adapters.near import DynamoNearStore

    return DynamoNearStore(s.content_table, clients.dynamodb())


def generation_limiter(counters_table: str, settings: RateLimitSettings) -> GenerationLimiter:
    """The per-role spend allowances (SPEND_ALLOWANCES), priced with the deployment's models, counted in the
    counters table."""
    from pregen.adapters.limits import DynamoRateCounter
    from pregen.services.limits import GenerationLimiter, SpendCeiling

    ceiling = settings.daily_spend_ceiling_usd
    return GenerationLimiter(
        counter=DynamoRateCounter(counters_table, clients.dynamodb()),
        limits=settings.rate_limits(),
        estimator=settings.estimator(),
        ceiling=SpendCeiling(ceiling, DynamoCounters(counters_table, clients.dynamodb())) if ceiling else None,
    )


@once
def serve_deps() -> ServeDeps:
    return serve_for(load(ServeSettings), hot=True)
