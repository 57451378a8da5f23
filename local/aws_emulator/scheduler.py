"""Fires the template's ScheduleV2 events at their rate, as EventBridge Scheduler would invoke the function."""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_emulator.runtime import Invocable
    from aws_emulator.template import Schedule

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a ``rate(...)`` expression; None for ``cron(...)`` and ``at(...)``."""
    found = _RATE.match(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


class Scheduler:
    def __init__(self, schedules: list[Schedule], functions: dict[str, Invocable], scale: float = 1.0) -> None:
        self.schedules = schedules
        self.functions = functions
        self.scale = scale
        self.stopping = threading.Event()
        self.fired: dict[str, int] = {}

    def start(self) -> None:
        for schedule in self.schedules:
            seconds = rate_seconds(schedule.expression)
            if seconds is None:
                logger.warning("schedule %s not run locally: only rate() is supported", schedule.name)
                continue
            threading.Thread(target=self._loop, args=(schedule, seconds * self.scale), daemon=True).start()

    def fire(self, schedule: Schedule) -> object:
        self.fired[schedule.name] = self.fired.get(schedule.name, 0) + 1
        return self.functions[schedule.function].invoke(dict(schedule.input))

    def _loop(self, schedule: Schedule, interval: float) -> None:
        while not self.stopping.wait(interval):
            try:
                self.fire(schedule)
            except Exception:
                logger.exception("scheduled invocation of %s failed", schedule.name)

    def stop(self) -> None:
        self.stopping.set()
