"""bench.requests on moto: the counts it reports are the requests the handlers make."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.requests import JOINED_FIRST, JOINED_SEEN, MODEL, measure

if TYPE_CHECKING:
    from tests.integration.conftest import Aws


def test_the_bench_counts_each_operations_requests(aws: Aws) -> None:
    ops = {op.name: op for op in measure(keys=3)}
    # A hit is one eventually consistent GetItem (the hot-key cache off); a joined miss, the cache read and the
    # claim cancelled on the key's marker (a failed request is counted: it is made and billed), no message; the
    # next in the same environment, the cache read alone (the marker remembered)
    assert ops["hit"].calls() == {"GetItem": 1}
    assert ops["hit"].units() == (0.5, 0, 0)
    assert ops[JOINED_FIRST].calls() == {"GetItem": 1, "TransactWriteItems": 1}
    assert ops[JOINED_FIRST].units()[2] == 0
    assert ops[JOINED_SEEN].calls() == {"GetItem": 1}
    assert ops[JOINED_SEEN].units() == (0.5, 0, 0)
    # A won miss: 3 requests (issue 34's floor): the cache read, one write that checks the alias, claims the key,
    # records the job and charges the allowance (no marker read, no consistent re-read), and one message
    miss = ops["miss, before its 202"]
    assert miss.calls() == {"GetItem": 1, "TransactWriteItems": 1, "SendMessage": 1}
    assert [r.table for r in miss.requests if r.operation == "TransactWriteItems"] == [
        "ContentTable,CountersTable,JobsTable"
    ]
    assert not any(r.kind == "read_sc" for r in miss.requests)
    # an environment's first miss also reads the day's spend (the ceiling, then remembered for 30 s)
    first = ops["miss, an environment's first, before its 202"]
    assert first.calls() == {**miss.calls(), "BatchGetItem": 1}
    # a generation's requests are split at its one model call: 5 around it (issue 34's floor), the lease and the
    # job's mark one transaction before it (no job read on a first delivery), everything stored in one after it
    before, after = ops["generation, before the model call"], ops["generation, after the model call"]
    assert MODEL not in before.calls()
    assert before.total + after.total == 5
    assert before.calls() == {"UpdateItem": 1, "TransactWriteItems": 1, "Query": 1}  # budget take, lease, bucket
    assert after.calls() == {"TransactWriteItems": 1, "UpdateItem": 1}  # everything stored, the budget's settle
    assert [r.table for r in after.requests if r.operation == "TransactWriteItems"] == [
        "ContentTable,CountersTable,JobsTable"
    ]
    # an environment's first also reads the day's spend (the ceiling, then remembered for 10 s)
    first = ops["generation, an environment's first, around the model call"]
    assert first.calls() == {"BatchGetItem": 1, "UpdateItem": 2, "TransactWriteItems": 2, "Query": 1}
    # The pre-generated batch is divided per key: each new key is claimed in one write, the batch sent in one
    # SendMessageBatch
    new = ops["pre-generate, a new key (a batch of 3)"]
    assert new.per == 3
    assert new.calls() == {"GetItem": 1, "TransactWriteItems": 1, "UpdateItem": 1 / 3, "SendMessageBatch": 1 / 3}
    assert ops["pre-generate, a key in flight (a batch of 3)"].units()[2] == 0
    assert ops["pre-generate, a key in flight its environment saw (a batch of 3)"].calls() == {"GetItem": 1}


def test_the_capacity_models_recipes_are_the_measured_counts(aws: Aws) -> None:
    from bench.requests import recipe_differences

    # Every recipe the bench measures matches, the generation's too
    assert recipe_differences(measure(keys=10)) == {}
