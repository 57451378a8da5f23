"""Scheduled tasks run by the cron function. Each returns a summary that is logged and returned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from pregen.domain.errors import InvalidRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.messages import EraseMessage
    from pregen.ports import Clock, Erasures, JobQueue, LibraryStore, RunState
    from pregen.services.content import ServeDeps
    from pregen.services.exams import ExamDeps

Task = Literal[
    "queue_report",
    "collect_batches",
    "inventory_topup",
    "inventory_topup_resume",
    "warm_all",
    "dead_letters",
    "catalogue_backfill",
]
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
    dead_letter_urls: dict[str, str] = field(default_factory=dict)  # lane -> its dead-letter queue
    # A job untouched for this long has no delivery working on it (the worker's lease, LEASE_SECONDS).
    stale_after_seconds: int = 330
    erasures: Erasures | None = None  # tombstones: dead-lettered erasure passes are sent again, once
    library: LibraryStore | None = None  # the shared library, whose lessons catalogue_backfill lists


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
    if event.task == "dead_letters":
        return settle_dead_letters(deps)
    if event.task == "catalogue_backfill":
        return catalogue_backfill(deps)
    return queue_report(deps)


def run_batch_collection(deps: CronDeps) -> dict[str, Any]:
    if deps.collect_batches is None:
        return {"task": "collect_batches", "skipped": "message batches are off (BATCH_BACKGROUND or no API key)"}
    return {"task": "collect_batches", **deps.collect_batches()}


BACKFILL_PAGES = 20  # Scan pages a run reads before it saves where it got to and ends (well inside 300 s)
BACKFILL_PAGE = 500  # items a Scan page reads (before the filter)


def catalogue_backfill(deps: CronDeps, pages: int = BACKFILL_PAGES, page: int = BACKFILL_PAGE) -> dict[str, Any]:
    """List in the course planners' catalogue the shared lessons served before the catalogue existed (it is written
    with a lesson's first version since then). An operator's one-off task: a paged Scan of the content table, up to
    ``pages`` pages a run; the run state keeps where it got to, so the next run goes on, and a run after the end
    starts over. Every write is an idempotent Put of the entry ``add_version`` would have written."""
    task = "catalogue_backfill"
    if deps.library is None or deps.runs is None:
        raise InvalidRequest(f"task {task!r} is not configured in this function")
    now = deps.clock.now()
    saved = deps.runs.get(task)
    version = int(saved["version"]) if saved else 0
    state: dict[str, Any] = {"start_key": None, "read": 0, "written": 0, "finished": False, "started_at": now}
    if saved is not None and not saved.get("finished"):
        state = {k: saved.get(k, v) for k, v in state.items()}
    for _ in range(pages):
        read, written, state["start_key"] = deps.library.backfill_catalogue(state["start_key"], page, now)
        state["read"] += read
        state["written"] += written
        state["finished"] = state["start_key"] is None
        if not deps.runs.save(task, state, version, deps.clock.now()):
            return {"task": task, "at": int(now), "stopped": "another run saved first", **_progress(state)}
        version += 1
        if state["finished"]:
            break
    return {"task": task, "at": int(now), **_progress(state)}


def _progress(state: dict[str, Any]) -> dict[str, Any]:
    return {"read": state["read"], "written": state["written"], "finished": state["finished"]}


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


def settle_dead_letters(deps: CronDeps, limit: int = 100) -> dict[str, Any]:
    """Fail the jobs whose message SQS dead-lettered with no worker code running, and free their keys.

    A delivery whose worker crashes or times out runs none of Pregen's failure handling: after ``maxReceiveCount``
    of them SQS moves the message to the lane's DLQ, and its job still says queued or generating while its key's
    in-flight marker (an hour) makes every learner who asks join a job nothing will finish. A crash fails its whole
    batch, so background batch-mates that never started share the fate. Each run peeks at the DLQs (the messages
    stay for ``pregen dlq redrive``, which generates them again) and settles such content jobs, if no delivery has
    touched them for a lease: a live copy of the message would have.

    A dead-lettered erasure pass (``EraseMessage``) is settled by sending it again to the interactive lane, once per
    pass (the tombstone records it): a pass is idempotent, and a learner's erasure must not stop half done. One
    already done (the tombstone says so) is left alone.
    """
    from pregen.domain.models import JobStatus
    from pregen.messages import EraseMessage, JobMessage, parse_message

    if deps.serve is None:
        raise RuntimeError("dead_letters needs the serving dependencies")
    serve = deps.serve
    now = deps.clock.now()
    seen = settled = 0
    for url in deps.dead_letter_urls.values():
        for letter in deps.queue.peek(url, limit):
            seen += 1
            try:
                message = parse_message(letter.body)
            except ValueError:
                continue  # not a message of ours: the operator's list shows it
            if isinstance(message, EraseMessage):
                settled += _redrive_erasure(message, deps, now)
                continue
            if not isinstance(message, JobMessage):
                continue  # exam sections and course parts keep their own state (the note says so)
            job = serve.jobs.get_job(message.job_id)
            if job is None or job.status not in (JobStatus.QUEUED, JobStatus.GENERATING):
                continue
            if now - job.updated_at < deps.stale_after_seconds:
                continue
            reason = (
                f"dead-lettered after {letter.receives} deliveries that ended without an answer (the worker crashed or "
                "timed out); `pregen dlq redrive` sends it again"
            )
            serve.jobs.set_status(message.job_id, JobStatus.FAILED, now, reason=reason)
            serve.store.release_inflight(message.key, message.job_id)
            settled += 1
    return {"task": "dead_letters", "at": int(now), "seen": seen, "settled": settled}


def _redrive_erasure(message: EraseMessage, deps: CronDeps, now: float) -> int:
    """Send a dead-lettered erasure pass again (1), unless it is done or was sent again already (0)."""
    from pregen.domain.models import Lane
    from pregen.observability import logger

    if deps.erasures is None:
        return 0
    status = deps.erasures.get(message.learner)
    if status is not None and (status.status == "done" or status.passes_done >= message.pass_number):
        return 0
    if not deps.erasures.mark_redriven(message.learner, message.pass_number, now):
        return 0
    deps.queue.send(Lane.INTERACTIVE, message.wire())
    logger.warning("dead-lettered erasure pass sent again", erasure_pass=message.pass_number)
    return 1
