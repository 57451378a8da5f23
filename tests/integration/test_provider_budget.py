"""Five worker environments started at once share one provider budget in DynamoDB (issue 32): what they take from the
model's bucket never passes the tier, and settling gives the unused part back at once."""

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
    # Then the bucket gave out no more than it holds (here: six calls of 3,000 within 20,000), each environment's
    # conditional write re-written for the bucket the others had moved
    store = DynamoProviderBudget(table, aws.dynamodb)
    assert len(admitted) == 20_000 // 3_000
    assert store.bucket(MODEL).level(TIER, clock.now()).output_tokens == 20_000 - 3_000 * len(admitted)
    assert store.read(MODEL, [MINUTE])[MINUTE]["waits"] == 40 - len(admitted)
    # And when each settles with 1,000 tokens used, the unused 2,000 a call come back, so more fit at once
    for reservation in admitted:
        reservation.used = Spend(1_000, 500, 1)
        reservation.answers = 1
        budgets[0].settle(reservation)
    item = store.read(MODEL, [MINUTE])[MINUTE]
    assert (item["out"], item["req"]) == (1_000 * len(admitted), len(admitted))
    assert store.bucket(MODEL).level(TIER, clock.now()).output_tokens == 20_000 - 1_000 * len(admitted)
    assert isinstance(budgets[1].reserve(MODEL, 3_000, Lane.INTERACTIVE), Reservation)


def test_a_refused_take_predicts_its_wait_from_the_bucket_it_got_back(aws: Aws) -> None:
    # Given a bucket another environment has emptied to 2,000 of 20,000
    table, clock = aws.env["COUNTERS_TABLE"], FrozenClock(MINUTE + 1)
    other = DynamoProviderBudget(table, aws.dynamodb)
    assert other.take(MODEL, Spend(18_000, 0, 1), TIER, TIER, clock.now()) == 0
    # When this environment (which has never seen the bucket) asks for 4,000
    store = DynamoProviderBudget(table, aws.dynamodb)
    wait = store.take(MODEL, Spend(4_000, 0, 1), TIER, TIER, clock.now())
    # Then it waits for the 2,000 short at 20,000 a minute: 6 s, and then it fits
    assert wait == pytest.approx(6.0)
    clock.advance(6)
    assert store.take(MODEL, Spend(4_000, 0, 1), TIER, TIER, clock.now()) == 0
    assert store.bucket(MODEL).level(TIER, clock.now()).output_tokens == 0


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
    assert store.bucket(MODEL).level(TIER, clock.now()).output_tokens == 20_000 - 1_200
