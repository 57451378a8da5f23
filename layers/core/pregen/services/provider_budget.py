"""The model provider's budget, shared by every worker environment (issue 32): reserve before a unit starts, settle
with what it used, learners first.

::

    unit (model, max_tokens, lane) ─▶ the controller's wait (a 429's retry-after, ``-remaining`` below one call)
                                        │ > 0: hand back after it
                                        ▼
        reserve one call (max_tokens output tokens, one request) in the model's item of this minute, with ONE
        conditional UpdateItem: the minute's totals must stay within the lane's room
            interactive: the controller's share of the tier       background: that, less INTERACTIVE_SHARE
                                        │ no room: hand back to the next minute (a "wait", counted)
                                        ▼ start
        the generator's answers (``pregen.provider_signals``) feed the controller and the reservation's usage
                                        ▼ the unit ends, however it ends
        settle: one UpdateItem adds (used - reserved) to the same item: the unused reservation is given back

The provider counts a call's ``max_tokens`` when it starts and corrects it when it ends, like this budget; its
bucket refills continuously while the budget's minutes are fixed, so a minute may start while the last one's calls
are still out: the controller's decrease on a 429 covers that. Re-asks within a unit are not reserved ahead; they
are charged when it settles (so a minute may pass its size by one unit's re-asks). Message Batches have limits of
their own (queued batch requests, not tokens per minute): they are not charged here.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from pregen import provider_signals, telemetry
from pregen.domain.models import Lane
from pregen.domain.provider_limits import WINDOW_S, Controller, ProviderAnswer, Spend
from pregen.observability import logger
from pregen.services.lifecycle import Decision, TimeAdmission

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pregen.domain.work_budget import Estimate
    from pregen.ports import Clock
    from pregen.services.lifecycle import Admission, Delivery


class BudgetStore(Protocol):
    """The shared budget's items (``pregen.adapters.provider_budget``): one per model and minute."""

    def reserve(self, model: str, window: int, need: Spend, room: Spend, now: float) -> bool:
        """Add ``need`` to the window's totals if they stay within ``room``; False (nothing added) if not."""
        ...

    def add(self, model: str, window: int, delta: Spend, counts: Mapping[str, int], now: float) -> None:
        """Add ``delta`` (negative gives back) and ``counts`` (waits, answers, 429s) to the window, unconditionally."""
        ...


@dataclass
class Reservation:
    model: str
    window: int
    reserved: Spend
    used: Spend = field(default_factory=Spend)
    answers: int = 0
    throttled: int = 0


@dataclass(frozen=True)
class Wait:
    after_s: int
    reason: str


@dataclass
class ProviderBudget:
    """The budget of every model this worker calls: the shared minutes (``store``) and this environment's
    controllers (``pregen.domain.provider_limits``), sized from ``tiers`` (per model; ``default_tier`` for a model
    not named)."""

    store: BudgetStore
    clock: Clock
    tiers: Mapping[str, Spend]
    default_tier: Spend
    interactive_share: float = 0.3
    controllers: dict[str, Controller] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The reservation of the unit this thread runs (a worker runs its records one at a time).
        self._current: ContextVar[Reservation | None] = ContextVar(f"provider_reservation_{id(self)}", default=None)
        provider_signals.listen(self.observe)

    def controller(self, model: str) -> Controller:
        if model not in self.controllers:
            self.controllers[model] = Controller(tier=self.tiers.get(model, self.default_tier))
        return self.controllers[model]

    def room(self, model: str, lane: Lane) -> Spend:
        """What the lane may fill of the model's minute: all of the controller's size for learners, the rest of it
        for background work."""
        allowed = self.controller(model).allowed()
        return allowed if lane is Lane.INTERACTIVE else allowed.scaled(1 - self.interactive_share)

    def reserve(self, model: str, max_tokens: int, lane: Lane) -> Reservation | Wait:
        now = self.clock.now()
        room = self.room(model, lane)
        # A call larger than the lane's whole minute takes a whole (empty) minute rather than waiting forever.
        need = Spend(output_tokens=min(max_tokens, room.output_tokens), requests=1)
        controller = self.controller(model)
        provider_wait = controller.wait_s(need, now)
        window = int(now) // WINDOW_S * WINDOW_S
        if provider_wait > 0:
            return self._wait(model, window, math.ceil(provider_wait), "the provider asked to wait", now)
        if not self.store.reserve(model, window, need, room, now):
            after = max(1, math.ceil(window + WINDOW_S - now))
            return self._wait(model, window, after, f"{lane.value} share of this minute is used", now)
        controller.started(need)
        reservation = Reservation(model=model, window=window, reserved=need)
        self._current.set(reservation)
        return reservation

    def _wait(self, model: str, window: int, after_s: int, why: str, now: float) -> Wait:
        telemetry.emit("ProviderBudgetWait", 1, model=model)
        self._count(model, window, Spend(), {"waits": 1}, now)
        return Wait(after_s=after_s, reason=f"provider budget of {model}: {why}")

    def observe(self, answer: ProviderAnswer) -> None:
        """One Messages answer (``pregen.provider_signals``): the controller learns from it; the unit's reservation
        adds its usage."""
        self.controller(answer.model).observe(answer, self.clock.now())
        if answer.throttled:
            telemetry.emit("ProviderThrottled", 1)  # alarmed (ProviderThrottleAlarm); per model in the analytics
        reservation = self._current.get()
        if reservation is not None and reservation.model == answer.model:
            reservation.used = reservation.used + answer.usage
            reservation.answers += 1
            reservation.throttled += answer.throttled

    def settle(self, reservation: Reservation) -> None:
        """Give back what the unit did not use (or add what its re-asks used beyond the reservation)."""
        if self._current.get() is reservation:
            self._current.set(None)
        counts = {"answers": reservation.answers, "throttled": reservation.throttled}
        self._count(reservation.model, reservation.window, reservation.used - reservation.reserved, counts, None)

    def _count(self, model: str, window: int, delta: Spend, counts: dict[str, int], now: float | None) -> None:
        try:
            self.store.add(model, window, delta, counts, self.clock.now() if now is None else now)
        except Exception:  # a lost count leaves the minute conservative until it ends; the unit's work stands
            logger.exception("provider budget: could not count", model=model, window=window)


@dataclass
class TokenBudgetAdmission:
    """The provider's token budget as an admission: a unit that calls the model reserves one call on its model
    before it starts (handed back with the budget's delay when it does not fit), and the lifecycle settles it when
    the unit ends. Ends with ``then`` (the time check); a reservation the time check hands back is given back."""

    budget: ProviderBudget
    then: Admission = field(default_factory=TimeAdmission)

    def admit(self, kind: str, estimate: Estimate, delivery: Delivery) -> Decision:
        if estimate.calls <= 0 or not estimate.model or estimate.max_tokens <= 0:
            return self.then.admit(kind, estimate, delivery)
        got = self.budget.reserve(estimate.model, estimate.max_tokens, delivery.lane)
        if isinstance(got, Wait):
            return Decision("hand_back", reason=got.reason, after_s=got.after_s)
        decision = self.then.admit(kind, estimate, delivery)
        if decision.action != "start":
            self.budget.settle(got)
            return decision
        return replace(decision, settle=lambda: self.budget.settle(got))
