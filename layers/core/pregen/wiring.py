"""Builds each function's dependencies from its settings, once per container (cold start)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from pregen.clock import SystemClock
from pregen.models import Lane
from pregen.queue import SqsJobQueue
from pregen.services.content import ServeDeps
from pregen.settings import (
    QueueSettings,
    ServeSettings,
    WorkerSettings,
    serve_settings,
    worker_settings,
)
from pregen.store import DynamoContentStore, DynamoCounters, DynamoJobStore, dynamodb_client

if TYPE_CHECKING:
    from pregen.ports import Generator
    from pregen.services.analytics import AnalyticsDeps
    from pregen.services.generation import WorkerDeps
    from pregen.services.navigation import NavigationDeps
    from pregen.services.schedules import CronDeps


def _stores(s: ServeSettings | WorkerSettings) -> tuple[DynamoContentStore, DynamoJobStore, DynamoCounters]:
    """The three table adapters, sharing one DynamoDB client."""
    client = dynamodb_client()
    return (
        DynamoContentStore(s.content_table, client),
        DynamoJobStore(s.jobs_table, s.job_ttl_days, client),
        DynamoCounters(s.counters_table, client),
    )


def _queue(s: QueueSettings) -> SqsJobQueue:
    return SqsJobQueue({Lane.INTERACTIVE: s.interactive_queue_url, Lane.BACKGROUND: s.background_queue_url})


@lru_cache(maxsize=1)
def serve_deps() -> ServeDeps:
    s = serve_settings()
    store, jobs, counters = _stores(s)
    return ServeDeps(
        store=store,
        jobs=jobs,
        queue=_queue(s),
        counters=counters,
        clock=SystemClock(),
        inflight_seconds=s.inflight_seconds,
        retry_after_seconds=s.retry_after_seconds,
    )


def make_generator(settings: WorkerSettings) -> Generator:
    """Claude when a key is configured (from SSM in AWS, the environment locally); otherwise offline content."""
    api_key = settings.anthropic_api_key
    if not api_key and settings.anthropic_api_key_parameter:
        from aws_lambda_powertools.utilities.parameters import get_parameter

        api_key = get_parameter(settings.anthropic_api_key_parameter, decrypt=True, max_age=900)
    if not api_key:
        from pregen.generators.offline import OfflineGenerator

        return OfflineGenerator()
    from pregen.generators.claude import AnthropicGenerator
    from pregen.pricing import default_prices

    return AnthropicGenerator(
        api_key=api_key,
        model_for=settings.model_for,
        prices=default_prices(),
        max_attempts=settings.max_generation_attempts,
        base_url=settings.anthropic_base_url,
    )


@lru_cache(maxsize=1)
def worker_deps() -> WorkerDeps:
    from pregen.services.generation import WorkerDeps

    s = worker_settings()
    store, jobs, counters = _stores(s)
    return WorkerDeps(
        store=store,
        jobs=jobs,
        counters=counters,
        generator=make_generator(s),
        clock=SystemClock(),
        ttl_days=s.ttl_days,
        lease_seconds=s.lease_seconds,
        max_receive_count=s.max_receive_count,
    )


def reset() -> None:
    """For tests that rebuild the environment between cases."""
    from pregen.settings import clear_caches

    clear_caches()
    for cached in (serve_deps, worker_deps, cron_deps, analytics_deps, navigation_deps):
        cached.cache_clear()


@lru_cache(maxsize=1)
def cron_deps() -> CronDeps:
    from pregen.services.schedules import CronDeps
    from pregen.settings import cron_settings

    s = cron_settings()
    return CronDeps(
        queue=_queue(s),
        queue_urls=s.all_queue_urls(s),
        clock=SystemClock(),
        serve=serve_deps(),
    )


@lru_cache(maxsize=1)
def analytics_deps() -> AnalyticsDeps:
    from pregen.services.analytics import AnalyticsDeps
    from pregen.settings import analytics_settings

    s = analytics_settings()
    return AnalyticsDeps(
        counters=DynamoCounters(s.counters_table),
        queue=_queue(s),
        queue_urls=s.all_queue_urls(s),
        clock=SystemClock(),
    )


@lru_cache(maxsize=1)
def navigation_deps() -> NavigationDeps:
    """The serving path (for pre-generation) plus the transition counts, the preload rules and the curriculum."""
    from pregen.prediction import default_preload_rules
    from pregen.services.navigation import NavigationDeps
    from pregen.settings import navigation_settings
    from pregen.store import DynamoTransitionStore
    from pregen.warming import default_warming_config

    s = navigation_settings()
    return NavigationDeps(
        serve=serve_deps(),
        transitions=DynamoTransitionStore(s.navigation_table),
        rules=default_preload_rules(),
        warming=default_warming_config(),
    )
