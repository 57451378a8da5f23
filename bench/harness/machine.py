"""The machine's load while a figure is measured: the cores busy over an interval (/proc/stat, whoever used them)
and the 1-minute load average, printed beside each figure on a machine shared with other work."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path


def machine_ticks() -> tuple[int, int]:
    """(busy, idle) clock ticks of every core since boot, from /proc/stat (idle counts iowait too)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, idle


@dataclass
class Load:
    """Started when made; ``stop()`` fixes the cores busy since then and the load average at that moment."""

    busy_start: int = field(default_factory=lambda: machine_ticks()[0])
    started: float = field(default_factory=time.perf_counter)
    busy_cores: float = 0.0
    load_average: float = 0.0

    def stop(self) -> Load:
        seconds = max(time.perf_counter() - self.started, 1e-9)
        self.busy_cores = (machine_ticks()[0] - self.busy_start) / os.sysconf("SC_CLK_TCK") / seconds
        self.load_average = os.getloadavg()[0]
        return self

    def describe(self) -> str:
        return f"cores busy {self.busy_cores:.2f} of {os.cpu_count()}, load average {self.load_average:.1f}"
