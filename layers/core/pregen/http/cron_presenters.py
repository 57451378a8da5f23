"""How an operator's run of a cron task looks on the wire (``POST /v1/ops/cron/{task}``, ``GET .../runs/{id}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from typing_extensions import TypedDict  # pydantic needs typing_extensions' TypedDict before Python 3.12

if TYPE_CHECKING:
    from pregen.domain.cron_runs import CronRun


class CronRunBody(TypedDict):
    run_id: str
    task: str
    status: Literal["queued", "running", "done", "failed"]
    requested_by: str
    requested_at: int
    started_at: int | None
    ended_at: int | None
    result: dict[str, Any] | None  # the task's summary, once done
    error: str | None  # why it failed, once failed


class CronRunAcceptedBody(CronRunBody):
    """A 202's body: the run to follow (``joined``: the task already had a run that has not ended, this is it)."""

    joined: bool


def run_location(run_id: str) -> str:
    return f"/v1/ops/cron/runs/{run_id}"


def _seconds(value: float | None) -> int | None:
    return None if value is None else int(value)


def cron_run_body(run: CronRun) -> CronRunBody:
    return {
        "run_id": run.run_id,
        "task": run.task,
        "status": run.status.value,  # type: ignore[typeddict-item]
        "requested_by": run.requested_by,
        "requested_at": int(run.requested_at),
        "started_at": _seconds(run.started_at),
        "ended_at": _seconds(run.ended_at),
        "result": run.result,
        "error": run.error,
    }


def cron_run_accepted_body(run: CronRun, *, joined: bool) -> CronRunAcceptedBody:
    return {**cron_run_body(run), "joined": joined}
