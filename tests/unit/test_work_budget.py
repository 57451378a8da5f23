"""The time budget is derived once (pregen.domain.work_budget) and the translated template holds to it."""

from __future__ import annotations

import pytest

from pregen.domain.work_budget import (
    LEASE_SECONDS,
    SDK_TIMEOUT_S,
    SETTLE_SECONDS,
    VISIBILITY_TIMEOUT_S,
    WORKER_TIMEOUT_S,
    largest_units,
)
from tests.unit.test_template_translated import deployed


def test_every_unit_of_work_fits_one_invocation() -> None:
    for name, unit in largest_units().items():
        # A unit that cannot start even in a fresh invocation would be handed back for ever
        assert unit.least_s <= WORKER_TIMEOUT_S, name
        # And an adjustable one still gets its first call
        assert unit.calls_within(WORKER_TIMEOUT_S) >= min(1, unit.calls), name


def test_the_budget_is_derived_from_the_largest_unit() -> None:
    fixed = [u for u in largest_units().values() if not u.adjustable]
    assert max(u.worst_s for u in fixed) + SETTLE_SECONDS / 2 <= WORKER_TIMEOUT_S
    longest_call = max(u.call_s for u in largest_units().values())
    assert longest_call < SDK_TIMEOUT_S < WORKER_TIMEOUT_S
    assert LEASE_SECONDS > WORKER_TIMEOUT_S
    assert VISIBILITY_TIMEOUT_S >= 6 * WORKER_TIMEOUT_S


def test_the_template_holds_to_the_budget() -> None:
    worker = deployed("WorkerFunction")
    assert worker["Timeout"] == WORKER_TIMEOUT_S
    assert int(worker["Environment"]["Variables"]["LEASE_SECONDS"]) == LEASE_SECONDS
    for queue in ("InteractiveQueue", "BackgroundQueue"):
        assert deployed(queue)["VisibilityTimeout"] >= 6 * worker["Timeout"], queue


@pytest.mark.parametrize("function", ["CronFunction"])
def test_functions_that_store_on_the_workers_path_hold_its_lease(function: str) -> None:
    assert int(deployed(function)["Environment"]["Variables"]["LEASE_SECONDS"]) == LEASE_SECONDS


def test_the_anthropic_client_times_out_before_the_worker() -> None:
    import inspect

    from pregen.adapters.generators.claude import AnthropicGenerator

    default = inspect.signature(AnthropicGenerator).parameters["timeout_s"].default
    assert default == SDK_TIMEOUT_S
