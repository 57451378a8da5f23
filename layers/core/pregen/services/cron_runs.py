"""Operators start cron tasks over HTTP and follow them: the route answers at once, the task runs from a queue.

  POST /v1/ops/cron/{task} ─▶ run record (queued) + its task's hold ─▶ operator tasks queue ─▶ 202 + run id
  cron function (SQS, BatchSize 1) ─▶ queued → running ─▶ run_schedule ─▶ done (summary) / failed (error)
  GET /v1/ops/cron/runs/{run_id} ─▶ the run as it stands

A task runs once per start: a delivery that finds its run already running or ended does nothing (SQS delivers at
least once), and a task whose invocation died stays failed (the operator starts it again). Starting a task whose run
has not ended joins that run instead of queueing a second one. The scheduled (EventBridge) path does not come here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from pregen.domain.cron_runs import RUN_ID, CronRun, RunStatus
from pregen.domain.errors import InvalidRequest, NotFound
from pregen.observability import logger
from pregen.services.schedules import TASKS, ScheduleEvent, run_schedule

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.ports import Clock, CronRuns, TaskQueue
    from pregen.services.schedules import CronDeps


@dataclass
class RunDeps:
    runs: CronRuns
    queue: TaskQueue
    clock: Clock
    # How long a queued run holds its task before a start may queue another (the queue's wait plus the function's
    # timeout); once running, the run holds it until its invocation's deadline.
    hold_seconds: int = 900


class RunMessage(BaseModel):
    """The operator tasks queue's message: which run, of which task."""

    model_config = ConfigDict(extra="ignore")
    run_id: str
    task: str


def start_run(task: str, requested_by: str, deps: RunDeps) -> tuple[CronRun, bool]:
    """Queue a run of ``task``; ``(run, True)`` when this call started it, ``(run, False)`` when it joined the
    task's run that has not ended."""
    if task not in TASKS:
        raise InvalidRequest(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    now = deps.clock.now()
    fresh = CronRun(
        run_id=uuid.uuid4().hex, task=task, status=RunStatus.QUEUED, requested_by=requested_by, requested_at=now
    )
    run = deps.runs.start(fresh, now + deps.hold_seconds)
    if run.run_id != fresh.run_id:
        logger.info("cron task already has a run", task=task, run_id=run.run_id, status=run.status.value)
        return run.as_seen_at(now), False
    try:
        deps.queue.send(RunMessage(run_id=run.run_id, task=task).model_dump())
    except Exception as exc:  # nothing will take the run: say so, and let the task go
        deps.runs.finish(_ended(run, RunStatus.FAILED, deps.clock.now(), error=f"could not queue the run: {exc}"))
        raise
    logger.info("cron task queued", task=task, run_id=run.run_id, requested_by=requested_by)
    return run, True


def get_run(run_id: str, deps: RunDeps) -> CronRun:
    run = deps.runs.get(run_id) if RUN_ID.match(run_id) else None
    if run is None:
        raise NotFound(f"no run {run_id}")
    return run.as_seen_at(deps.clock.now())


def run_queued(
    body: str, receives: int, remaining_seconds: float, deps: RunDeps, cron: Callable[[], CronDeps]
) -> CronRun | None:
    """Run the task a queue message names, recording its run's progress; None when there is nothing to do.

    ``receives``: the message's receive count (a second receive of a running run means the first invocation died).
    ``remaining_seconds``: the invocation's time left, which becomes the run's deadline.
    """
    try:
        message = RunMessage.model_validate_json(body)
    except ValidationError:
        logger.error("not an operator task message; dropped", body=body[:200])
        return None
    run = deps.runs.get(message.run_id)
    if run is None:  # expired (three days) or never written: nothing to record against
        logger.warning("operator task message for no run; dropped", run_id=message.run_id)
        return None
    now = deps.clock.now()
    if run.status is RunStatus.RUNNING and receives > 1:
        logger.warning("operator task cut short before", run_id=run.run_id, task=run.task)
        failed = run.as_seen_at(float("inf"))
        deps.runs.finish(failed)
        return failed
    if run.status is not RunStatus.QUEUED:
        return None  # another delivery of the same message: its run is under way or over
    running = run.model_copy(
        update={"status": RunStatus.RUNNING, "started_at": now, "deadline": now + max(0.0, remaining_seconds)}
    )
    if not deps.runs.mark_running(running):
        return None
    try:
        summary = run_schedule(ScheduleEvent(task=run.task), cron())
    except Exception as exc:
        logger.exception("operator task failed", run_id=run.run_id, task=run.task)
        ended = _ended(running, RunStatus.FAILED, deps.clock.now(), error=f"{type(exc).__name__}: {exc}")
    else:
        logger.info("operator task done", run_id=run.run_id, task=run.task)
        ended = _ended(running, RunStatus.DONE, deps.clock.now(), result=summary)
    deps.runs.finish(ended)
    return ended


def _ended(
    run: CronRun, status: RunStatus, now: float, *, result: dict[str, Any] | None = None, error: str | None = None
) -> CronRun:
    return run.model_copy(update={"status": status, "ended_at": now, "result": result, "error": error})
