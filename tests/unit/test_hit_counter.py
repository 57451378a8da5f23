"""DynamoHitCounter's reactions to DynamoDB's transaction cancellations, with a stubbed client (no engine gives a
TransactionConflict on demand; the two real engines cover the rest in tests/integration/test_store_engines.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from pregen.adapters import ddb
from pregen.adapters.counters import DynamoHitCounter
from pregen.usage_log import KeyHits

T = 1_900_000_000
HITS = {"a": KeyHits(count=2, last_at=T), "b": KeyHits(count=1, last_at=T)}


def _counter() -> tuple[DynamoHitCounter, Stubber]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )  # stubbed: never sends a request
    return DynamoHitCounter("content-table", "counters-table", client=client), Stubber(client)


def _cancelled(stubber: Stubber, *codes: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
        expected_params={"TransactItems": ANY},
    )


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ddb.time, "sleep", lambda seconds: None)


def test_a_transaction_conflict_on_a_hot_key_is_retried_in_the_function() -> None:
    counter, stubber = _counter()
    _cancelled(stubber, "None", "TransactionConflict", "None")
    _cancelled(stubber, "None", "None", "TransactionConflict")
    stubber.add_response("transact_write_items", {}, {"TransactItems": ANY})
    with stubber:
        assert counter.add("batch", HITS, T) == 3
    stubber.assert_no_pending_responses()


def test_conflicts_that_do_not_clear_fail_the_batch_for_lambdas_retries() -> None:
    counter, stubber = _counter()
    for _ in range(DynamoHitCounter.CONFLICTS.retries + 1):
        _cancelled(stubber, "None", "TransactionConflict", "None")
    with stubber, pytest.raises(ClientError):
        counter.add("batch", HITS, T)


def test_an_applied_chunk_adds_nothing_and_a_gone_key_is_dropped() -> None:
    counter, stubber = _counter()
    sent: list[Any] = []
    _cancelled(stubber, "None", "ConditionalCheckFailed", "None")  # "a" has no stats item any more
    stubber.add_response("transact_write_items", {}, {"TransactItems": ANY})
    _cancelled(stubber, "ConditionalCheckFailed", "None", "None")  # the marker: delivered before
    client = counter.client
    client.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", lambda params, **_: sent.append(params["TransactItems"])
    )
    with stubber:
        assert counter.add("batch", HITS, T) == 1
        assert counter.add("batch", HITS, T) == 0
    assert [len(items) for items in sent] == [3, 2, 3]
    assert sent[1][1]["Update"]["Key"]["pk"] == {"S": "b"}
    assert int(sent[0][0]["Put"]["Item"]["expires_at"]["N"]) - T == 15 * 86_400  # outlives the 14-day DLQ
