"""In-memory JobQueue ports: one that only records what is sent, and the lanes of a discrete-event simulation
(workers per lane, each generation taking simulated time)."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pregen.domain.models import Lane

if TYPE_CHECKING:
    from collections.abc import Container

    from pregen.ports import Clock


@dataclass
class MemoryQueue:
    """The JobQueue port that keeps every message sent, in order; it reports no depth."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def send(self, lane: Lane, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        for message in messages:
            self.send(lane, message)
        return []

    def depth(self, urls: dict[str, str]) -> dict[str, dict[str, int]]:
        return {}


class Simulation(Protocol):
    """What the simulated lanes need of the simulation that drives them."""

    @property
    def clock(self) -> Clock: ...

    @property
    def available(self) -> Container[str]: ...  # the keys whose content is stored

    def run_worker(self, message: dict[str, Any]) -> None: ...

    def schedule(self, at: float, kind: str, data: Any) -> None: ...


@dataclass
class SimulatedLanes:
    """The JobQueue port in simulated time: per lane a FIFO and ``concurrency`` workers, each generation taking
    ``latency`` seconds (the simulation calls ``finish`` when its ``"done"`` event comes). A delivery whose key is
    already stored finishes at once; one whose key is being generated waits for that generation (on AWS:
    LeaseHeld, redelivered, then found cached) without taking a worker."""

    sim: Simulation
    concurrency: dict[Lane, int]
    latency: float
    waiting: dict[Lane, deque[dict[str, Any]]] = field(default_factory=lambda: {lane: deque() for lane in Lane})
    busy: Counter[Lane] = field(default_factory=Counter)
    generating: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    max_backlog: Counter[Lane] = field(default_factory=Counter)

    def send(self, lane: Lane, message: dict[str, Any]) -> None:
        self.waiting[lane].append(message)
        self.max_backlog[lane] = max(self.max_backlog[lane], len(self.waiting[lane]))
        self.dispatch(lane)

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        for message in messages:
            self.send(lane, message)
        return []

    def depth(self, urls: dict[str, str]) -> dict[str, dict[str, int]]:
        return {lane.value: {"visible": len(q), "in_flight": self.busy[lane]} for lane, q in self.waiting.items()}

    def dispatch(self, lane: Lane) -> None:
        queue = self.waiting[lane]
        while queue and self.busy[lane] < self.concurrency[lane]:
            message = queue.popleft()
            key = message["key"]
            if key in self.sim.available:
                self.sim.run_worker(message)
            elif key in self.generating:
                self.generating[key].append(message)
            else:
                self.generating[key] = []
                self.busy[lane] += 1
                self.sim.schedule(self.sim.clock.now() + self.latency, "done", (lane, message))

    def finish(self, lane: Lane, message: dict[str, Any]) -> None:
        self.busy[lane] -= 1
        self.sim.run_worker(message)
        for twin in self.generating.pop(message["key"], []):
            self.sim.run_worker(twin)
        self.dispatch(lane)
