"""bench.requests: the read/write units it computes from item sizes, by DynamoDB's on-demand rules."""

from __future__ import annotations

from typing import Any

from bench.requests import Operation, Request, read_units, write_units


def _item(size: int) -> dict[str, Any]:
    """An item of about ``size`` bytes (DynamoDB counts names and values)."""
    return {"pk": {"S": "k"}, "body": {"S": "x" * (size - 7)}}


def _no_reads(table: str, key: dict[str, Any]) -> int:
    raise AssertionError("a put is sized from its own item")


def test_reads_cost_a_unit_per_4_kb_consistent_and_half_eventually() -> None:
    small, large = {"Item": _item(100)}, {"Item": _item(9_000)}
    assert read_units("GetItem", {"ConsistentRead": True}, small)[1] == 1.0
    assert read_units("GetItem", {}, small)[1] == 0.5
    assert read_units("GetItem", {"ConsistentRead": True}, large)[1] == 3.0  # 9,000 bytes: three 4 KB units
    assert read_units("GetItem", {}, {})[1] == 0.5  # a missing item still costs the minimum
    # A query is sized by what it returned in all, not per item
    assert read_units("Query", {}, {"Items": [_item(1_000)] * 3})[1] == 0.5


def test_writes_cost_a_unit_per_kb_and_a_transaction_twice() -> None:
    assert write_units("t", "Put", {"Item": _item(2_500)}, _no_reads) == 3
    assert write_units("t", "Update", {"Key": {}}, lambda table, key: 1_500) == 2  # the item's size after it
    assert write_units("t", "Delete", {"Key": {}}, _no_reads) == 1
    from bench.requests import WRITES

    put = {"Put": {"TableName": "t", "Item": _item(100)}}
    update = {"Update": {"TableName": "u", "Key": {}}}
    tables, units = WRITES["TransactWriteItems"]({"TransactItems": [put, update]}, lambda table, key: 3_000)
    assert (sorted(tables), units) == (["t", "u"], 2 * (1 + 3))


def test_an_operation_divides_its_requests_by_how_often_it_ran() -> None:
    requests = [Request("dynamodb", "GetItem", "C", read_units=0.5)] * 4 + [Request("sqs", "SendMessage")]
    op = Operation("pre-generate", requests, per=2)
    assert op.calls() == {"GetItem": 2.0, "SendMessage": 0.5}
    assert op.units() == (1.0, 0.0, 0.5)
    assert op.by_table() == {"C": {"GetItem": 2.0}}
