"""The one clock: every "now" in Pregen comes from here so tests can move time."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class SystemClock:
    def now(self) -> float:
        return time.time()


@dataclass
class FrozenClock:
    """A clock for tests: starts at ``at`` and moves only when told."""

    at: float = field(default=1_800_000_000.0)

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds
