"""An operator's run of a cron task (``POST /v1/ops/cron/{task}``): started at once, run later from a queue.

queued (the route wrote it and sent its message) → running (the cron function took the message) → done (its
summary) or failed (its error). One run per task at a time: starting a task whose run has not ended joins that run.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

# A run id is 32 lowercase hex characters (uuid4().hex); anything else names no run.
RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ENDED = (RunStatus.DONE, RunStatus.FAILED)


class CronRun(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str
    task: str
    status: RunStatus
    requested_by: str
    requested_at: float
    started_at: float | None = None
    ended_at: float | None = None
    # The invocation's own deadline: a run still "running" after it was cut short (timeout or crash).
    deadline: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def as_seen_at(self, now: float) -> CronRun:
        """The run as an operator should see it: one whose invocation's deadline has passed without an end failed."""
        if self.status is RunStatus.RUNNING and self.deadline is not None and now > self.deadline:
            return self.model_copy(update={"status": RunStatus.FAILED, "error": CUT_SHORT, "ended_at": self.deadline})
        return self


CUT_SHORT = "the invocation ended (timeout or crash) before the task finished; start it again"
