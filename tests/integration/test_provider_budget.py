"""Five worker environments started at once share one provider budget in DynamoDB (issue 32): the minute's sum of
reservations never passes the tier by more than one call's reservation, and settling gives the unused part back."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from pregen import provider_signals
from pregen.adapters.provider_budget import DynamoProviderBudget
from pregen.domain.clock import FrozenClock
from pregen.domain.models import Lane
from pregen.domain.provider_limits import ProviderAnswer, Spend
from pregen.services.provider_budget import ProviderBudget, Reservation

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.integration.conftest import Aws

MODEL = "claude-haiku-5-5"
TIER = Spend(output_tokens=20_000, input_tokens=1_000_000, requests=1_000)
MINUTE = 1_800_000_000


@pytest.fixture(autouse=True)
def _no_listeners_left() -> Iterator[None]:
    yield
    provider_signals._listeners.clear()


def test_five_environments_share_one_budget(aws: Aws, atomic_requests: None) -> None:
    # Given five environments, each with its own budget object (its own controller) on the one counters table
    table = aws.env["COUNTERS_TABLE"]
    clock = FrozenClock(MINUTE + 1)
    budgets = [
        ProviderBudget(DynamoProviderBudget(table, aws.dynamodb), clock, {MODEL: TIER}, TIER, interactive_share=0.0)
        for _ in range(5)
    ]
    admitted: list[Reservation] = []
    lock = threading.Lock()
    start = threading.Barrier(5)

    def environment(budget: ProviderBudget) -> None:
        start.wait()
        for _ in range(8):  # more than the tier: 40 calls of 3,000 against 20,000
            got = budget.reserve(MODEL, 3_000, Lane.INTERACTIVE)
            if isinstance(got, Reservation):
                with lock:
                    admitted.append(got)

    # When all five reserve at once
    threads = [threading.Thread(target=environment, args=(b,)) for b in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then the minute holds no more than the tier allows (here: six calls of 3,000 within 20,000)
    store = DynamoProviderBudget(table, aws.dynamodb)
    item = store.read(MODEL, [MINUTE])[MINUTE]
    assert len(admitted) == 20_000 // 3_000
    assert item["out"] == 3_000 * len(admitted) <= TIER.output_tokens
    assert item["waits"] == 40 - len(admitted)
    # And when each settles with 1,000 tokens used, the unused 2,000 a call come back, so more fit in the minute
    for reservation in admitted:
        reservation.used = Spend(1_000, 500, 1)
        reservation.answers = 1
        budgets[0].settle(reservation)
    item = store.read(MODEL, [MINUTE])[MINUTE]
    assert item["out"] == 1_000 * len(admitted)
    assert item["req"] == len(admitted)
    assert isinstance(budgets[1].reserve(MODEL, 3_000, Lane.INTERACTIVE), Reservation)


def test_answers_reach_the_running_units_reservation(aws: Aws) -> None:
    # Given a reservation held by this thread's unit
    clock = FrozenClock(MINUTE + 1)
    store = DynamoProviderBudget(aws.env["COUNTERS_TABLE"], aws.dynamodb)
    budget = ProviderBudget(store, clock, {MODEL: TIER}, TIER)
    reservation = budget.reserve(MODEL, 4_000, Lane.BACKGROUND)
    assert isinstance(reservation, Reservation)
    # When the generator publishes a 429 and then an answer
    provider_signals.publish(ProviderAnswer(MODEL, 429, retry_after_s=2))
    provider_signals.publish(ProviderAnswer(MODEL, 200, Spend(1_200, 3_000, 1)))
    budget.settle(reservation)
    # Then the minute counts what was used, the answers and the 429
    item = store.read(MODEL, [MINUTE])[MINUTE]
    assert (item["out"], item["inp"], item["req"]) == (1_200, 3_000, 1)
    assert (item["answers"], item["throttled"]) == (2, 1)
