"""Scheduled tasks run by the cron function. Each returns a summary that is logged and returned."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from pregen.errors import InvalidRequest

if TYPE_CHECKING:
    from pregen.clock import Clock
    from pregen.ports import JobQueue

TASKS = ("queue_report",)


class ScheduleEvent(BaseModel):
    """The Input of a ScheduleV2 event in template.yaml, e.g. ``{"task": "queue_report"}``."""

    model_config = ConfigDict(extra="ignore")
    task: str


@dataclass
class CronDeps:
    queue: JobQueue
    queue_urls: dict[str, str]
    clock: Clock


def run_schedule(event: ScheduleEvent, deps: CronDeps) -> dict[str, Any]:
    if event.task not in TASKS:
        raise InvalidRequest(f"unknown task {event.task!r}; known: {', '.join(TASKS)}")
    return queue_report(deps)


def queue_report(deps: CronDeps) -> dict[str, Any]:
    depths = deps.queue.depth(deps.queue_urls)
    waiting: Literal["yes", "no"] = "yes" if any(d["visible"] for d in depths.values()) else "no"
    return {"task": "queue_report", "at": int(deps.clock.now()), "queues": depths, "backlog": waiting}
