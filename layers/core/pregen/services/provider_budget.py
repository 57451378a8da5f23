"""The model provider's budget, shared by every worker environment (issue 32): reserve before a unit starts, settle
with what it used, learners first.

::

    unit (model, max_tokens, lane) ─▶ the controller's wait (a 429's retry-after, ``-remaining`` below one call)
                                        │ > 0: hand back after it
                                        ▼
        take one call (max_tokens output tokens, one request) from the model's shared bucket
        (``domain.provider_limits.Bucket``: capacity = the tier, refilled continuously like the provider's), with
        ONE conditional UpdateItem: the lane may empty the bucket only as far as its room
            interactive: the controller's share of the tier       background: that, less INTERACTIVE_SHARE
                                        │ no room: hand back after the wait the bucket predicts for this call
                                        │          to fit (at least MIN_WAIT_S), a "wait", counted
                                        ▼ start
        the generator's answers (``pregen.provider_signals``) feed the controller and the reservation's usage
                                        ▼ the unit ends, however it ends
        settle: the bucket gets back what the unit did not use of its reservation (an overrun is charged), so the
                room is there for the next unit at once; the minute's record adds what it used (the analytics)

The reservation is what the provider charges when a call starts: Anthropic counts a call's ``max_tokens`` against
the output-tokens bucket at its start and corrects it to the tokens produced at its end (so does the fake). A
reservation smaller than ``max_tokens`` (the kind's expected output) would let the budget start calls the provider
refuses while the bucket is low; the unused part comes back at the settle instead, and a refused unit waits only as
long as the refill needs, so the bucket's whole refill is used while there is demand. Re-asks within a unit are not
reserved ahead; they are charged when it settles (the bucket may go below empty by one unit's re-asks). Message
Batches have limits of their own (queued batch requests, not tokens per minute): they are not charged here.
"""

from __future__ import annotations

import math
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from pregen import provider_signals, telemetry
from pregen.domain.models import Lane
from pregen.domain.provider_limits import MIN_WAIT_S, SEND_LAG_S, WINDOW_S, Controller, ProviderAnswer, Spend
from pregen.observability import logger
from pregen.services.lifecycle import Decision, TimeAdmission

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pregen.domain.work_budget import Estimate
    from pregen.ports import Clock
    from pregen.services.lifecycle import Admission, Delivery


class BudgetStore(Protocol):
    """The shared budget's items (``pregen.adapters.provider_budget``): one bucket per model
    (``domain.provider_limits.Bucket``) and one record per model and minute."""

    def take(self, model: str, need: Spend, room: Spend, capacity: Spend, now: float) -> float:
        """Take ``need`` from the model's bucket if the lane's ``room`` allows it (0.0); if not, nothing is taken
        and the answer is the seconds until it would fit."""
        ...

    def give(self, model: str, delta: Spend, capacity: Spend) -> None:
        """Give ``delta`` back to the model's bucket (a negative part charges an overrun), unconditionally."""
        ...

    def add(self, model: str, window: int, delta: Spend, counts: Mapping[str, int], now: float) -> None:
        """Add ``delta`` (what units used) and ``counts`` (waits, answers, 429s) to the minute, unconditionally."""
        ...


@dataclass
class Reservation:
    model: str
    window: int
    reserved: Spend
    capacity: Spend  # the bucket's size it was taken from (a settle moves the bucket at the same rate)
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
    send_lag_s: float = SEND_LAG_S  # refill left unclaimed for the time a request takes to reach the provider
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
        """How much of the model's bucket the lane may empty: all of the controller's size for learners, the rest of
        it for background work; each less ``send_lag_s`` of refill."""
        controller = self.controller(model)
        allowed = controller.allowed()
        lane_room = allowed if lane is Lane.INTERACTIVE else allowed.scaled(1 - self.interactive_share)
        lag = controller.capacity().scaled(self.send_lag_s / WINDOW_S)
        return Spend(*(max(0, room - held) for room, held in zip(lane_room.parts(), lag.parts(), strict=True)))

    def reserve(self, model: str, max_tokens: int, lane: Lane) -> Reservation | Wait:
        now = self.clock.now()
        room = self.room(model, lane)
        # A call larger than the lane's whole room takes all of it (when the bucket has it) rather than waiting
        # forever.
        need = Spend(output_tokens=min(max_tokens, room.output_tokens), requests=1)
        controller = self.controller(model)
        provider_wait = controller.wait_s(need, now)
        window = int(now) // WINDOW_S * WINDOW_S
        if provider_wait > 0:
            return self._wait(model, window, self.after(provider_wait), "the provider asked to wait", now)
        capacity = controller.capacity()
        bucket_wait = self.store.take(model, need, room, capacity, now)
        if bucket_wait > 0:
            return self._wait(model, window, self.after(bucket_wait), f"{lane.value} room is used", now)
        controller.started(need)
        reservation = Reservation(model=model, window=window, reserved=need, capacity=capacity)
        self._current.set(reservation)
        return reservation

    @staticmethod
    def after(wait_s: float) -> int:
        """The hand-back's delay for a predicted wait: whole seconds (an SQS delay), never below MIN_WAIT_S."""
        return max(MIN_WAIT_S, math.ceil(wait_s))

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
        """Give back to the bucket what the unit did not use (or charge what its re-asks used beyond the
        reservation), and record what it used in its minute."""
        if self._current.get() is reservation:
            self._current.set(None)
        try:
            self.store.give(reservation.model, reservation.reserved - reservation.used, reservation.capacity)
        except Exception:  # a lost give-back leaves the bucket conservative until it refills; the work stands
            logger.exception("provider budget: could not give back", model=reservation.model)
        counts = {"answers": reservation.answers, "throttled": reservation.throttled}
        self._count(reservation.model, reservation.window, reservation.used, counts, None)

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
