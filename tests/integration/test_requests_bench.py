"""bench.requests on moto: the counts it reports are the requests the handlers make."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.requests import MODEL, measure

if TYPE_CHECKING:
    from tests.integration.conftest import Aws


def test_the_bench_counts_each_operations_requests(aws: Aws) -> None:
    ops = {op.name: op for op in measure(keys=3)}
    # A hit is one eventually consistent GetItem (the hot-key cache off), a joined miss two reads and no write
    assert ops["hit"].calls() == {"GetItem": 1}
    assert ops["hit"].units() == (0.5, 0, 0)
    assert set(ops["joined miss"].calls()) == {"GetItem"}
    assert ops["joined miss"].units()[1:] == (0, 0)
    # A won miss enqueues one message; a generation's requests are split at its one model call
    assert ops["miss, before its 202"].units()[2] == 1
    assert MODEL not in ops["generation, before the model call"].calls()
    assert ops["generation, after the model call"].units()[1] > 0
    # The pre-generated batch is divided per key: each new key is enqueued
    assert ops["pre-generate, a new key (a batch of 3)"].per == 3
    assert ops["pre-generate, a new key (a batch of 3)"].units()[2] == 1
    assert ops["pre-generate, a key in flight (a batch of 3)"].units()[2] == 0


def test_the_capacity_models_recipes_are_the_measured_counts(aws: Aws) -> None:
    from bench.requests import recipe_differences

    # Every recipe the bench measures matches, but the generation's, which waits on the workload simulator
    # (pregen_tools.capacity's comment on it)
    assert set(recipe_differences(measure(keys=10))) == {"generation"}
