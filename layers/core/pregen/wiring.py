"""Builds each function's dependencies from its settings, once per container (cold start)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pregen.adapters.content import DynamoContentStore
from pregen.adapters.counters import DynamoCounters, DynamoHitCounter
from pregen.adapters.ddb import dynamodb_client
from pregen.adapters.jobs import DynamoJobStore
from pregen.adapters.queue import SqsJobQueue
from pregen.config.settings import QueueSettings, ServeSettings, serve_settings, worker_settings
from pregen.domain.clock import SystemClock
from pregen.domain.models import Lane

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.adapters.runs import DynamoRunState
    from pregen.config.functions import ExamSettings
    from pregen.config.worker import WorkerSettings
    from pregen.ports import Generator
    from pregen.services.analytics import AnalyticsDeps
    from pregen.services.batches import BatchDeps
    from pregen.services.content import ServeDeps
    from pregen.services.exam_generation import ExamWorkerDeps
    from pregen.services.exams import ExamDeps
    from pregen.services.generation import WorkerDeps
    from pregen.services.library import LibraryDeps
    from pregen.services.limits import GenerationLimiter
    from pregen.services.navigation import NavigationDeps
    from pregen.services.schedules import CronDeps


def _stores(
    s: ServeSettings | WorkerSettings, client: DynamoDBClient | None = None
) -> tuple[DynamoContentStore, DynamoJobStore, DynamoCounters]:
    """The three table adapters, sharing one DynamoDB client."""
    client = client or dynamodb_client()
    return (
        DynamoContentStore(s.content_table, client),
        DynamoJobStore(s.jobs_table, s.job_ttl_days, client),
        DynamoCounters(s.counters_table, client),
    )


def _queue(s: QueueSettings) -> SqsJobQueue:
    return SqsJobQueue({Lane.INTERACTIVE: s.interactive_queue_url, Lane.BACKGROUND: s.background_queue_url})


@lru_cache(maxsize=1)
def serve_deps() -> ServeDeps:
    return _serve(serve_settings())


def _serve(s: ServeSettings, client: DynamoDBClient | None = None) -> ServeDeps:
    """The serving path's dependencies (get-content, pre-generate, and the library's regeneration)."""
    from pregen.services.content import ServeDeps  # here, not at the top: the worker never serves

    store, jobs, counters = _stores(s, client)
    return ServeDeps(
        store=store,
        jobs=jobs,
        queue=_queue(s),
        counters=counters,
        clock=SystemClock(),
        inflight_seconds=s.inflight_seconds,
        retry_after_seconds=s.retry_after_seconds,
        limiter=generation_limiter(s, store.client),
    )


def generation_limiter(s: ServeSettings | ExamSettings, client: DynamoDBClient | None = None) -> GenerationLimiter:
    """The per-role generation allowances (RATE_LIMITS), counted in the counters table."""
    from pregen.adapters.limits import DynamoRateCounter
    from pregen.services.limits import GenerationLimiter

    return GenerationLimiter(counter=DynamoRateCounter(s.counters_table, client), limits=s.rate_limits())


def make_generator(settings: WorkerSettings) -> Generator:
    """Claude when a key is configured (from SSM in AWS, the environment locally); otherwise offline content."""
    api_key = settings.anthropic_api_key
    if not api_key and settings.anthropic_api_key_parameter:
        from aws_lambda_powertools.utilities.parameters import get_parameter

        api_key = get_parameter(settings.anthropic_api_key_parameter, decrypt=True, max_age=900)
    if not api_key:
        from pregen.adapters.generators.offline import OfflineGenerator

        return OfflineGenerator(latency_s=settings.offline_latency_s)
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.domain.pricing import default_prices

    return AnthropicGenerator(
        api_key=api_key,
        model_for=settings.model_for,
        prices=default_prices(),
        max_attempts=settings.max_generation_attempts,
        base_url=settings.anthropic_base_url,
    )


@lru_cache(maxsize=1)
def worker_deps() -> WorkerDeps:
    from pregen.adapters.library import DynamoLibraryStore
    from pregen.services.generation import WorkerDeps

    s = worker_settings()
    store, jobs, counters = _stores(s)
    return WorkerDeps(
        library=DynamoLibraryStore(s.content_table, store.client),
        store=store,
        jobs=jobs,
        counters=counters,
        generator=make_generator(s),
        clock=SystemClock(),
        ttl_days=s.ttl_days,
        lease_seconds=s.lease_seconds,
        max_receive_count=s.max_receive_count,
        queue=_queue(s),
        max_throttle_retries=s.max_throttle_retries,
        throttle_base_delay_s=s.throttle_base_delay_s,
    )


@lru_cache(maxsize=1)
def batch_deps() -> BatchDeps | None:
    """Message Batches for the background lane: only with BATCH_BACKGROUND and a generator that speaks the Batches
    API (Claude; the offline generator has none). Shares the worker's deps, so results are stored the same way."""
    from pregen.services.batches import BatchDeps

    s = worker_settings()
    worker = worker_deps()
    if not s.batch_background or not hasattr(worker.generator, "submit_batch"):
        return None
    from pregen.adapters.batches import DynamoBatchStore

    store = worker.store
    client = store.client if isinstance(store, DynamoContentStore) else None
    return BatchDeps(
        worker=worker,
        generator=worker.generator,  # type: ignore[arg-type]
        batches=DynamoBatchStore(s.jobs_table, s.job_ttl_days, client),
        queue=worker.queue or _queue(s),
    )


def reset() -> None:
    """For tests that rebuild the environment between cases."""
    from pregen.config.settings import clear_caches

    clear_caches()
    for cached in (
        serve_deps,
        worker_deps,
        cron_deps,
        analytics_deps,
        usage_deps,
        hit_counter,
        library_deps,
        batch_deps,
        exam_deps,
        exam_worker_deps,
        run_state,
        navigation_deps,
    ):
        cached.cache_clear()


@lru_cache(maxsize=1)
def cron_deps() -> CronDeps:
    from pregen.config.settings import cron_settings
    from pregen.services.schedules import CronDeps

    s = cron_settings()
    return CronDeps(
        queue=_queue(s),
        queue_urls=s.all_queue_urls(s),
        clock=SystemClock(),
        collect_batches=_collect_batches,
        exams=exam_deps(),
        runs=run_state(),
        serve=serve_deps(),
    )


def _collect_batches() -> dict[str, Any]:
    """Built on first use: the collector needs the worker's settings and generator (and so imports anthropic)."""
    from pregen.services.batches import collect_batches

    deps = batch_deps()
    if deps is None:
        return {"skipped": "message batches are off (BATCH_BACKGROUND or no API key)"}
    return collect_batches(deps)


@lru_cache(maxsize=1)
def analytics_deps() -> AnalyticsDeps:
    from pregen.config.settings import analytics_settings
    from pregen.services.analytics import AnalyticsDeps

    s = analytics_settings()
    return AnalyticsDeps(
        counters=DynamoCounters(s.counters_table),
        queue=_queue(s),
        queue_urls=s.all_queue_urls(s),
        clock=SystemClock(),
    )


@lru_cache(maxsize=1)
def usage_deps() -> tuple[DynamoCounters, SystemClock]:
    """The usage aggregator needs only the counters table."""
    from pregen.config.settings import usage_settings

    return DynamoCounters(usage_settings().counters_table), SystemClock()


@lru_cache(maxsize=1)
def hit_counter() -> DynamoHitCounter:
    """The usage aggregator's other input: hit lines from get-content's log, added to the keys' stats items."""
    from pregen.config.settings import usage_settings

    s = usage_settings()
    return DynamoHitCounter(s.content_table, s.counters_table)


@lru_cache(maxsize=1)
def library_deps() -> LibraryDeps:
    from pregen.adapters.library import DynamoLibraryStore
    from pregen.config.settings import library_settings
    from pregen.domain.library import LibraryRules
    from pregen.services.library import LibraryDeps

    s = library_settings()
    client = dynamodb_client()
    return LibraryDeps(
        library=DynamoLibraryStore(s.content_table, client),
        serve=_serve(s, client),
        rules=LibraryRules(
            approval_min_net_votes=s.approval_min_net_votes,
            approval_min_ratio=s.approval_min_ratio,
            regenerate_below_net_votes=s.regenerate_below_net_votes,
        ),
    )


@lru_cache(maxsize=1)
def exam_deps() -> ExamDeps:
    """The exam inventory's ports: the exams function, and the cron's top-up."""
    from pregen.adapters.activity import DynamoActivity
    from pregen.adapters.exams import DynamoExamInventory
    from pregen.config.settings import exam_settings
    from pregen.domain.programs import default_catalogue
    from pregen.services.exams import ExamDeps

    s = exam_settings()
    client = dynamodb_client()
    return ExamDeps(
        inventory=DynamoExamInventory(s.exams_table, client),
        activity=DynamoActivity(s.counters_table, client),
        counters=DynamoCounters(s.counters_table, client),
        limiter=generation_limiter(s, client),
        queue=_queue(s),
        clock=SystemClock(),
        catalogue=default_catalogue(),
        target=s.inventory_target,
        ready_ttl_days=s.exam_ready_ttl_days,
        claimed_ttl_hours=s.exam_claimed_ttl_hours,
        failed_ttl_hours=s.exam_failed_ttl_hours,
        generating_hold_hours=s.exam_generating_hold_hours,
        retry_after_seconds=s.exam_retry_after_seconds,
        activity_days=s.activity_days,
        topup_page_size=s.topup_page_size,
        topup_budget_seconds=s.topup_budget_seconds,
        topup_interval_seconds=s.topup_interval_hours * 3600,
    )


@lru_cache(maxsize=1)
def run_state() -> DynamoRunState:
    from pregen.adapters.runs import DynamoRunState
    from pregen.config.settings import exam_settings

    return DynamoRunState(exam_settings().exams_table)


@lru_cache(maxsize=1)
def exam_worker_deps() -> ExamWorkerDeps:
    """The worker's section jobs: the content worker's generator and counters, plus the exams table."""
    from pregen.adapters.exams import DynamoExamInventory
    from pregen.config.settings import exam_settings
    from pregen.domain.programs import default_catalogue
    from pregen.services.exam_generation import ExamWorkerDeps

    s = exam_settings()
    content = worker_deps()
    generator: object = content.generator
    if not hasattr(generator, "generate_section"):  # the Claude adapter: sections get their own prompt and schema
        from pregen.adapters.generators.claude import AnthropicGenerator
        from pregen.adapters.generators.claude_sections import ClaudeSectionWriter

        if isinstance(generator, AnthropicGenerator):
            generator = ClaudeSectionWriter(generator)
    return ExamWorkerDeps(
        inventory=DynamoExamInventory(s.exams_table),
        generator=generator,
        counters=content.counters,
        clock=content.clock,
        catalogue=default_catalogue(),
        ready_ttl_days=s.exam_ready_ttl_days,
        failed_ttl_hours=s.exam_failed_ttl_hours,
        max_receive_count=content.max_receive_count,
    )


@lru_cache(maxsize=1)
def navigation_deps() -> NavigationDeps:
    """The serving path (for pre-generation) plus the transition counts, the preload rules and the curriculum."""
    from pregen.adapters.navigation import DynamoTransitionStore
    from pregen.config.settings import navigation_settings
    from pregen.domain.prediction import default_preload_rules
    from pregen.domain.warming import default_warming_config
    from pregen.services.navigation import NavigationDeps

    s = navigation_settings()
    return NavigationDeps(
        serve=serve_deps(),
        transitions=DynamoTransitionStore(s.navigation_table),
        rules=default_preload_rules(),
        warming=default_warming_config(),
    )
