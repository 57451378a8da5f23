"""The cron function: scheduled tasks (top-up, warming, batch collection, catalogue backfill) and the guarded HTTP
trigger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pregen.adapters.erasures import DynamoErasures
from pregen.adapters.library import DynamoLibraryStore
from pregen.config.base import load
from pregen.config.functions import CronRunSettings, CronSettings, TriggerSettings
from pregen.domain.clock import SystemClock
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.exams import exam_deps, run_state
from pregen.wiring.serve import lanes, serve_deps

if TYPE_CHECKING:
    from pregen.services.cron_runs import RunDeps
    from pregen.services.schedules import CronDeps


@once
def cron_deps() -> CronDeps:
    from pregen.services.schedules import CronDeps

    s = load(CronSettings)
    return CronDeps(
        queue=lanes(s),
        queue_urls=s.all_queue_urls(s),
        clock=SystemClock(),
        collect_batches=_collect_batches,
        exams=exam_deps(),
        runs=run_state(),
        serve=serve_deps(),
        dead_letter_urls={"interactive": s.interactive_dlq_url, "background": s.background_dlq_url},
        stale_after_seconds=s.lease_seconds,
        erasures=DynamoErasures(s.counters_table, clients.dynamodb()),
        library=DynamoLibraryStore(s.content_table, clients.dynamodb()),
    )


@once
def run_deps() -> RunDeps:
    """Operators' runs: started by the HTTP routes, taken from the operator tasks queue by the same function."""
    from pregen.adapters.cron_runs import DynamoCronRuns
    from pregen.adapters.queue import SqsTaskQueue
    from pregen.services.cron_runs import RunDeps

    s = load(CronRunSettings)
    return RunDeps(
        runs=DynamoCronRuns(s.jobs_table, clients.dynamodb(), ttl_days=s.cron_run_ttl_days),
        queue=SqsTaskQueue(s.operator_queue_url, clients.sqs()),
        clock=SystemClock(),
        hold_seconds=s.cron_run_hold_seconds,
    )


def trigger_settings() -> TriggerSettings:
    """Who may call POST /v1/cron/run: the JWT issuer to verify admins against, and the cron secret."""
    return load(TriggerSettings)


def _collect_batches() -> dict[str, Any]:
    """Built on first use: the collector needs the worker's settings and generator (and so imports anthropic)."""
    from pregen.services.batches import collect_batches
    from pregen.wiring.worker import batch_deps

    deps = batch_deps()
    if deps is None:
        return {"skipped": "message batches are off (BATCH_BACKGROUND or no API key)"}
    return collect_batches(deps)
