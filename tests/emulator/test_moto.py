"""The local stack's moto server: a transaction copies the items it touches, never its tables, and still writes
all or nothing, with the cancellation reasons moto (and DynamoDB) give; SQS's visibility, delays and receipt
handles behave as moto's while its walk over a queue's messages builds no datetimes."""

from __future__ import annotations

import copy
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from aws_emulator.moto_server import MotoServer


@pytest.fixture(scope="module")
def server() -> Any:
    running = MotoServer().start()  # installs the fixes, as the local stack's server does
    yield running
    running.stop()


def _client(service: str, server: MotoServer) -> Any:
    return boto3.client(
        service, endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


@pytest.fixture(scope="module")
def dynamodb(server: MotoServer) -> Any:
    client = _client("dynamodb", server)
    client.create_table(
        TableName="local-moto-test",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def _update(pk: str, condition: str = "attribute_not_exists(nope)") -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "local-moto-test",
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": "ADD hits :one",
            "ConditionExpression": condition,
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_a_transaction_of_many_items_copies_no_table(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(200):  # a table that is not empty: moto alone copies all of it per item of the transaction
        dynamodb.put_item(TableName="local-moto-test", Item={"pk": {"S": f"filler{i}"}})
    copied: list[str] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    dynamodb.transact_write_items(TransactItems=[_update(f"k{i}") for i in range(40)])
    assert copied == []  # moto alone: 40 copies of the table
    assert dynamodb.get_item(TableName="local-moto-test", Key={"pk": {"S": "k39"}})["Item"]["hits"] == {"N": "1"}


def test_a_cancelled_transaction_still_leaves_nothing_behind(dynamodb: Any) -> None:
    items = [_update("r1"), _update("r2"), _update("r3", condition="attribute_exists(pk)")]  # r3 is absent
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=items)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = raised.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert "Item" not in dynamodb.get_item(TableName="local-moto-test", Key={"pk": {"S": "r1"}})


def test_a_failed_condition_returns_the_old_item_when_asked(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="local-moto-test", Item={"pk": {"S": "old"}, "owner": {"S": "ann"}})
    check = _update("old", condition="attribute_not_exists(pk)")
    check["Update"]["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[_update("o1"), check])
    reasons = raised.value.response["CancellationReasons"]
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Item"]["owner"] == {"S": "ann"}


def test_an_item_that_fails_while_applying_puts_back_the_ones_before_it(dynamodb: Any) -> None:
    dynamodb.put_item(TableName="local-moto-test", Item={"pk": {"S": "a1"}, "hits": {"N": "5"}})
    dynamodb.put_item(TableName="local-moto-test", Item={"pk": {"S": "a2"}, "name": {"S": "text"}})
    bad = _update("a2")  # ADD a number to a string: refused only when applied
    bad["Update"]["UpdateExpression"] = "ADD #n :one"
    bad["Update"]["ExpressionAttributeNames"] = {"#n": "name"}
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[_update("a1"), _update("a0"), bad])
    assert dynamodb.get_item(TableName="local-moto-test", Key={"pk": {"S": "a1"}})["Item"]["hits"] == {"N": "5"}
    assert "Item" not in dynamodb.get_item(TableName="local-moto-test", Key={"pk": {"S": "a0"}})


def test_an_item_named_twice_is_refused_as_moto_refuses_it(dynamodb: Any) -> None:
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[_update("d1"), _update("d1")])
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName="local-moto-test", Key={"pk": {"S": "d1"}})


def test_sqs_visibility_delays_and_old_receipt_handles_behave_as_moto_says(server: MotoServer) -> None:
    sqs = _client("sqs", server)
    url = sqs.create_queue(QueueName="local-moto-visibility")["QueueUrl"]
    # A delayed message is not received before its delay
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    time.sleep(1.1)
    (first,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"]
    # A received message is invisible for its visibility timeout, then delivered again with a new handle
    assert sqs.receive_message(QueueUrl=url).get("Messages") is None
    time.sleep(1.1)
    (again,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    assert again["MessageId"] == first["MessageId"] and again["ReceiptHandle"] != first["ReceiptHandle"]
    # And a delete by the older handle still deletes it, as moto does
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_a_receive_on_a_deep_queue_reads_no_datetime_per_message(
    server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.sqs import models

    sqs = _client("sqs", server)
    url = sqs.create_queue(QueueName="local-moto-deep")["QueueUrl"]
    for _ in range(30):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "job"} for i in range(10)])
    calls = {"n": 0}
    original = models.unix_time_millis

    def counted(*args: Any) -> float:
        calls["n"] += 1
        return original(*args)

    monkeypatch.setattr(models, "unix_time_millis", counted)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # moto's own checks built two datetimes per message walked (300 messages, walked per receive and delete)
    assert len(messages) == 10
    assert calls["n"] < 100
