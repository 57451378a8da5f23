"""The local stack's moto server: a transaction backs each table up once, and still rolls back whole."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from pregen_local.moto_server import MotoServer


@pytest.fixture(scope="module")
def dynamodb() -> Any:
    server = MotoServer().start()  # installs the fix, as the local stack's server does
    client = boto3.client(
        "dynamodb",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    client.create_table(
        TableName="local-moto-test",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    server.stop()


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


def test_a_transaction_of_many_items_copies_its_table_once(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    dynamodb.transact_write_items(TransactItems=[_update(f"k{i}") for i in range(40)])
    assert copied == ["local-moto-test"]  # moto alone: 40 copies


def test_a_cancelled_transaction_still_leaves_nothing_behind(dynamodb: Any) -> None:
    items = [_update("r1"), _update("r2"), _update("r3", condition="attribute_exists(pk)")]  # r3 is absent
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=items)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "Item" not in dynamodb.get_item(TableName="local-moto-test", Key={"pk": {"S": "r1"}})
