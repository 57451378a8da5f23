"""The provider's token budget (issue 32): a unit takes its call from the model's bucket before it starts and settles
with what it used; the bucket refills continuously, like the provider's; what does not fit waits as long as the
refill needs; learners keep a share of the bucket; the controller follows the provider's 429s and headers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from pregen import provider_signals
from pregen.domain.clock import FrozenClock
from pregen.domain.models import Lane
from pregen.domain.provider_limits import (
    DECREASE,
    FLOOR,
    INCREASE,
    MIN_WAIT_S,
    Bucket,
    Controller,
    ProviderAnswer,
    Spend,
    read_answer,
)
from pregen.domain.work_budget import Estimate
from pregen.services.lifecycle import Delivery, Lifecycle
from pregen.services.provider_budget import ProviderBudget, Reservation, TokenBudgetAdmission, Wait

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

MODEL = "claude-haiku-5-5"
TIER = Spend(output_tokens=10_000, input_tokens=100_000, requests=50)
MINUTE = 1_800_000_000  # a minute's start; tests never read the real clock


@dataclass
class MemoryBudget:
    """The store's contract in memory: one bucket per model, one dict of totals per model and minute."""

    buckets: dict[str, Bucket] = field(default_factory=dict)
    items: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)

    def take(self, model: str, need: Spend, room: Spend, capacity: Spend, now: float) -> float:
        after, wait = self.buckets.get(model, Bucket()).take(need, room, capacity, now)
        self.buckets[model] = after
        return wait

    def give(self, model: str, delta: Spend, capacity: Spend) -> None:
        self.buckets[model] = self.buckets.get(model, Bucket()).given(delta, capacity)

    def add(self, model: str, window: int, delta: Spend, counts: Mapping[str, int], now: float) -> None:
        item = self.items.setdefault((model, window), {})
        adds = {"out": delta.output_tokens, "inp": delta.input_tokens, "req": delta.requests, **counts}
        for name, value in adds.items():
            item[name] = item.get(name, 0) + value

    def level(self, now: float) -> Spend:
        return self.buckets.get(MODEL, Bucket()).level(TIER, now)

    def use(self, spend: Spend, now: float) -> None:
        """Empty the bucket by ``spend`` (as units started elsewhere would)."""
        assert self.take(MODEL, spend, TIER, TIER, now) == 0


@pytest.fixture(autouse=True)
def _no_listeners_left() -> Iterator[None]:
    yield
    provider_signals._listeners.clear()


def _budget(store: MemoryBudget, clock: FrozenClock, share: float = 0.3, lag_s: float = 0.0) -> ProviderBudget:
    return ProviderBudget(
        store=store, clock=clock, tiers={MODEL: TIER}, default_tier=TIER, interactive_share=share, send_lag_s=lag_s
    )


def _delivery(lane: Lane) -> Delivery:
    return Delivery(receive_count=1, worker_id="w", lane=lane, receipt_handle="r", time_left_s=900)


class SentQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[Lane, dict[str, Any], int]] = []

    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.sent.append((lane, message, delay_seconds))


@dataclass
class Unit:
    """A kind of work whose ``do`` reports one provider answer with the given output tokens."""

    output_tokens: int
    max_tokens: int = 4_000
    name: str = "content_job"
    metric: str = "Job"
    failed_metric: str = "GenerationFailed"
    raises: bool = False

    def log_keys(self, message: Any) -> dict[str, Any]:
        return {}

    def estimate(self, message: Any) -> Estimate:
        return Estimate.of(MODEL, self.max_tokens, 1)

    def do(self, message: Any, delivery: Delivery) -> str:
        provider_signals.publish(ProviderAnswer(MODEL, 200, Spend(self.output_tokens, 1_000, 1)))
        if self.raises:
            raise RuntimeError("the unit failed after its call")
        return "generated"

    def settle_failure(
        self, message: Any, delivery: Delivery, exc: Exception, failure: Any, next_attempt_at: float | None
    ) -> None:
        return None


@dataclass
class Message:
    def wire(self) -> dict[str, Any]:
        return {"type": "content_job"}


def test_a_unit_takes_its_max_tokens_and_gives_back_at_once_what_it_did_not_use() -> None:
    # Given a full bucket of a 10k-token tier
    store, clock = MemoryBudget(), FrozenClock(MINUTE + 10)
    budget = _budget(store, clock)
    lifecycle = Lifecycle(queue=SentQueue(), admission=TokenBudgetAdmission(budget))
    # When a unit with max_tokens 4,000 starts, the bucket holds its whole max_tokens (what the provider charges)
    reservation = budget.reserve(MODEL, 4_000, Lane.INTERACTIVE)
    assert isinstance(reservation, Reservation)
    assert store.level(clock.now()).output_tokens == 6_000
    budget.settle(reservation)
    # And when a unit runs and uses 1,500 output tokens, the 2,500 it did not use are back before the minute ends
    outcome = lifecycle.run(Unit(output_tokens=1_500), Message(), _delivery(Lane.INTERACTIVE))  # type: ignore[arg-type]
    assert outcome == "generated"
    assert store.level(clock.now()).output_tokens == 10_000 - 1_500
    # And the minute's record holds what it used and its one request
    assert store.items[(MODEL, MINUTE)] == {"out": 1_500, "inp": 1_000, "req": 1, "answers": 1, "throttled": 0}


def test_a_unit_that_fails_still_settles() -> None:
    store, clock = MemoryBudget(), FrozenClock(MINUTE + 10)
    lifecycle = Lifecycle(queue=SentQueue(), admission=TokenBudgetAdmission(_budget(store, clock)), clock=clock)
    with pytest.raises(RuntimeError):
        lifecycle.run(Unit(output_tokens=700, raises=True), Message(), _delivery(Lane.INTERACTIVE))  # type: ignore[arg-type]
    assert store.items[(MODEL, MINUTE)]["out"] == 700
    assert store.level(clock.now()).output_tokens == 10_000 - 700


def test_settled_room_is_reused_in_the_same_minute() -> None:
    # Given 10k a minute and units of 4,000 that use 1,500: two fill the bucket's first 8,000
    store, clock = MemoryBudget(), FrozenClock(MINUTE + 1)
    budget = _budget(store, clock)
    first, second = (budget.reserve(MODEL, 4_000, Lane.INTERACTIVE) for _ in range(2))
    assert isinstance(first, Reservation) and isinstance(second, Reservation)
    assert isinstance(budget.reserve(MODEL, 4_000, Lane.INTERACTIVE), Wait)
    # When both settle having used 1,500 each, a second later
    for reservation in (first, second):
        reservation.used = Spend(1_500, 0, 1)
        budget.settle(reservation)
    clock.advance(1)
    # Then a third starts in the same minute (fixed minutes held it to the next one): 2,000 + 2 x 2,500 given
    # back + a second's refill
    assert store.level(clock.now()).output_tokens == 2_000 + 5_000 + 167
    assert isinstance(budget.reserve(MODEL, 4_000, Lane.INTERACTIVE), Reservation)


def test_a_unit_that_does_not_fit_is_handed_back_after_the_refill_it_needs() -> None:
    # Given a bucket with 1,000 of its 10,000 output tokens left, 30 s into a minute
    store, clock = MemoryBudget(), FrozenClock(MINUTE + 30)
    store.use(Spend(9_000, 0, 2), clock.now())
    queue = SentQueue()
    lifecycle = Lifecycle(queue=queue, admission=TokenBudgetAdmission(_budget(store, clock)))
    # When a learner's unit needing 4,000 arrives
    unit = Unit(output_tokens=1_000)
    outcome = lifecycle.run(unit, Message(), _delivery(Lane.INTERACTIVE))  # type: ignore[arg-type]
    # Then it is handed back for the 3,000 short at 10,000 a minute (18 s), nothing taken, and the wait counted
    assert outcome == "handed_back"
    assert queue.sent == [(Lane.INTERACTIVE, {"type": "content_job"}, 18)]
    assert store.items[(MODEL, MINUTE)] == {"out": 0, "inp": 0, "req": 0, "waits": 1}
    assert store.level(clock.now()).output_tokens == 1_000
    # And one second early it still does not fit; at 18 s it starts (in the same minute: by the refill, not the turn)
    clock.advance(17)
    assert lifecycle.run(unit, Message(), _delivery(Lane.INTERACTIVE)) == "handed_back"  # type: ignore[arg-type]
    assert queue.sent[-1][2] == MIN_WAIT_S  # a moment short: the floor, so a hand-back does not spin receives
    clock.advance(1)
    assert lifecycle.run(unit, Message(), _delivery(Lane.INTERACTIVE)) == "generated"  # type: ignore[arg-type]


def test_a_new_minute_does_not_refill_the_bucket_at_once() -> None:
    # Given the whole bucket taken one second before a minute's turn
    store, clock = MemoryBudget(), FrozenClock(MINUTE + 59)
    store.use(TIER, clock.now())
    budget = _budget(store, clock)
    # When the minute turns, only the second's refill (a sixtieth of the tier) is back, as at the provider
    clock.advance(1)
    assert store.level(clock.now()).output_tokens == pytest.approx(10_000 / 60, abs=1)
    got = budget.reserve(MODEL, 4_000, Lane.INTERACTIVE)
    assert isinstance(got, Wait)
    assert got.after_s == 23  # (4,000 - 166.7) x 60 / 10,000 = 23.0 s
    # And after a whole minute it is full again, and no fuller
    clock.advance(120)
    assert store.level(clock.now()).output_tokens == 10_000


def test_the_budget_leaves_the_send_lags_refill_unclaimed() -> None:
    # Given 2 s of send lag and 4,000 of 10,000 output tokens left (learners)
    store, clock = MemoryBudget(), FrozenClock(MINUTE)
    store.use(Spend(6_000, 0, 1), clock.now())
    budget = _budget(store, clock, share=0.0, lag_s=2.0)
    # When a learner's call of 4,000 asks, Then it waits for the 2 s of refill kept unclaimed (333 tokens)
    got = budget.reserve(MODEL, 4_000, Lane.INTERACTIVE)
    assert isinstance(got, Wait)
    assert got.after_s == 2
    clock.advance(2)
    assert isinstance(budget.reserve(MODEL, 4_000, Lane.INTERACTIVE), Reservation)


def test_an_overrun_is_charged_at_the_settle() -> None:
    store, clock = MemoryBudget(), FrozenClock(MINUTE)
    budget = _budget(store, clock)
    reservation = budget.reserve(MODEL, 4_000, Lane.INTERACTIVE)
    assert isinstance(reservation, Reservation)
    # When its re-asks used 7,000 (past its 4,000)
    reservation.used = Spend(7_000, 0, 3)
    budget.settle(reservation)
    # Then the bucket holds the 7,000, not the 4,000
    assert store.level(clock.now()).output_tokens == 3_000


def test_learners_keep_a_share_of_the_bucket() -> None:
    # Given 30 % of the bucket kept for learners and 6,000 of 10,000 output tokens taken
    store, clock = MemoryBudget(), FrozenClock(MINUTE + 5)
    store.use(Spend(6_000, 0, 2), clock.now())
    budget = _budget(store, clock, share=0.3)
    admission = TokenBudgetAdmission(budget)
    estimate = Estimate.of(MODEL, 2_000, 1)
    # When background work asks for 2,000 more (leaving 2,000, under the learners' 3,000), Then it waits for the
    # 1,000 short (6 s), a receive not spent
    background = admission.admit("content_job", estimate, _delivery(Lane.BACKGROUND))
    assert (background.action, background.after_s) == ("hand_back", 6)
    # While a learner's miss of the same size starts
    learner = admission.admit("content_job", estimate, _delivery(Lane.INTERACTIVE))
    assert learner.action == "start"
    assert learner.settle is not None


def test_work_that_calls_no_model_passes_untouched() -> None:
    store, clock = MemoryBudget(), FrozenClock(MINUTE)
    decision = TokenBudgetAdmission(_budget(store, clock)).admit(
        "learner_erase", Estimate(), _delivery(Lane.BACKGROUND)
    )
    assert decision.action == "start"
    assert store.items == {}


def test_a_reservation_the_time_check_refuses_is_given_back() -> None:
    store, clock = MemoryBudget(), FrozenClock(MINUTE)
    admission = TokenBudgetAdmission(_budget(store, clock))
    short = Delivery(receive_count=1, worker_id="w", lane=Lane.INTERACTIVE, receipt_handle="r", time_left_s=1)
    decision = admission.admit("content_job", Estimate.of(MODEL, 4_000, 1), short)
    assert decision.action == "hand_back"
    assert store.level(clock.now()) == TIER
    assert store.items[(MODEL, MINUTE)]["out"] == 0


def test_a_429_decreases_the_budget_and_holds_the_model_for_its_retry_after() -> None:
    # Given a controller at its full size
    controller = Controller(tier=TIER)
    # When the provider answers 429 with retry-after 7, twice in a burst
    controller.observe(ProviderAnswer(MODEL, 429, retry_after_s=7), now=100.0)
    controller.observe(ProviderAnswer(MODEL, 429, retry_after_s=7), now=100.5)
    # Then the size decreased once (a burst is one congestion) and nothing starts before the last retry-after ends
    assert controller.size == pytest.approx(DECREASE)
    assert controller.allowed().output_tokens == int(TIER.output_tokens * DECREASE)
    assert controller.wait_s(Spend(1_000, 0, 1), now=101.0) == pytest.approx(6.5)
    # And each good answer adds back INCREASE, up to the whole tier and no further
    for _ in range(200):
        controller.observe(ProviderAnswer(MODEL, 200, Spend(10, 10, 1)), now=200.0)
    assert controller.size == 1.0
    assert controller.wait_s(Spend(1_000, 0, 1), now=200.0) == 0
    assert INCREASE > 0


def test_the_size_never_falls_below_the_floor() -> None:
    controller = Controller(tier=TIER)
    for second in range(0, 200, 3):
        controller.observe(ProviderAnswer(MODEL, 429, retry_after_s=1), now=float(second))
    assert controller.size == pytest.approx(FLOOR)


def test_the_providers_headers_cap_the_tier_and_say_when_a_call_fits() -> None:
    # Given an answer saying the provider allows 5,000 output tokens a minute, 500 left, reset in 30 s
    headers = {
        "anthropic-ratelimit-output-tokens-limit": "5000",
        "anthropic-ratelimit-output-tokens-remaining": "500",
        "anthropic-ratelimit-output-tokens-reset": "2027-01-15T08:00:30Z",
        "anthropic-ratelimit-input-tokens-limit": "100000",
        "anthropic-ratelimit-input-tokens-remaining": "90000",
        "anthropic-ratelimit-input-tokens-reset": "2027-01-15T08:00:01Z",
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "40",
        "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:01Z",
    }
    answer = read_answer(MODEL, 200, headers, Spend(100, 100, 1))
    now = answer.reset_at - 30 if answer.reset_at else 0.0
    controller = Controller(tier=TIER)
    controller.observe(answer, now=now)
    # Then the configured 10,000 is capped to the provider's 5,000
    assert controller.allowed().output_tokens == 5_000
    # And a call needing 2,000 waits for the 1,500 short at 5,000 a minute (18 s), less than the full reset
    assert controller.wait_s(Spend(2_000, 0, 1), now=now) == pytest.approx(18.0)
    assert controller.wait_s(Spend(400, 0, 1), now=now) == 0


def test_what_the_provider_said_is_left_refills_until_the_next_answer() -> None:
    # Given an answer saying 500 output tokens are left of 10,000 a minute
    controller = Controller(tier=TIER)
    remaining = Spend(500, 100_000, 50)
    controller.observe(ProviderAnswer(MODEL, 200, remaining=remaining, reset_at=157.0), now=100.0)
    # Then a call needing 2,000 waits for the 1,500 short (9 s), and 6 s later for 3 s only: the bucket refilled
    assert controller.wait_s(Spend(2_000, 0, 1), now=100.0) == pytest.approx(9.0)
    assert controller.wait_s(Spend(2_000, 0, 1), now=106.0) == pytest.approx(3.0)
    assert controller.wait_s(Spend(2_000, 0, 1), now=109.0) == 0
