"""Scheduled tasks run by the cron function. Each returns a summary that is logged and returned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from pregen.domain.errors import InvalidRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.ports import Clock, JobQueue, RunState
    from pregen.services.content import ServeDeps
    from pregen.services.exams import ExamDeps

Task = Literal["queue_report", "collect_batches", "inventory_topup", "inventory_topup_resume", "warm_all"]
TASKS: tuple[str, ...] = get_args(Task)


class ScheduleEvent(BaseModel):
    """The Input of a ScheduleV2 event in template.yaml, e.g. ``{"task": "queue_report"}``."""

    model_config = ConfigDict(extra="ignore")
    task: str


@dataclass
class CronDeps:
    queue: JobQueue
    queue_urls: dict[str, str]
    clock: Clock
    # Collects ended Message Batches (pregen.services.batches); None when batching is off or no provider key.
    collect_batches: Callable[[], dict[str, Any]] | None = None
    exams: ExamDeps | None = None  # the inventory top-up's ports
    runs: RunState | None = None  # where a long top-up run got to
    serve: ServeDeps | None = None  # the serving path, for tasks that enqueue content (warming)


def run_schedule(event: ScheduleEvent, deps: CronDeps) -> dict[str, Any]:
    if event.task not in TASKS:
        raise InvalidRequest(f"unknown task {event.task!r}; known: {', '.join(TASKS)}")
    if event.task == "collect_batches":
        return run_batch_collection(deps)
    if event.task in ("inventory_topup", "inventory_topup_resume"):
        from pregen.services.topup import topup_inventory

        if deps.exams is None or deps.runs is None:
            raise InvalidRequest(f"task {event.task!r} is not configured in this function")
        return topup_inventory(deps.exams, deps.runs, resume_only=event.task == "inventory_topup_resume")
    if event.task == "warm_all":
        return warm_all_task(deps)
    return queue_report(deps)


def run_batch_collection(deps: CronDeps) -> dict[str, Any]:
    if deps.collect_batches is None:
        return {"task": "collect_batches", "skipped": "message batches are off (BATCH_BACKGROUND or no API key)"}
    return {"task": "collect_batches", **deps.collect_batches()}


def queue_report(deps: CronDeps) -> dict[str, Any]:
    depths = deps.queue.depth(deps.queue_urls)
    waiting: Literal["yes", "no"] = "yes" if any(d["visible"] for d in depths.values()) else "no"
    return {"task": "queue_report", "at": int(deps.clock.now()), "queues": depths, "backlog": waiting}


def warm_all_task(deps: CronDeps) -> dict[str, Any]:
    """Warm every configured grade and subject (background lane); cached and in-flight keys are skipped."""
    from pregen.domain.warming import default_warming_config
    from pregen.services.warming import warm_all

    if deps.serve is None:
        raise RuntimeError("warm_all needs the serving dependencies")
    reports = warm_all(default_warming_config(), deps.serve)
    totals = {k: sum(r.as_dict()[k] for r in reports) for k in ("requested", "queued", "in_flight", "cached")}
    return {"task": "warm_all", "at": int(deps.clock.now()), **totals, "grades": [r.as_dict() for r in reports]}
