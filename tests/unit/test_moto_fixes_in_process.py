"""``aws_emulator.moto_server.fixes_in_process``: an in-process moto (``mock_aws``, as ``bench.spend_floors`` runs
it) gets the local stack's fixes for the block only: a transaction copies no table inside, moto's own code is back
after."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import boto3
from moto import mock_aws
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.sqs import models as sqs_models

from aws_emulator.moto_server import fixes_in_process

if TYPE_CHECKING:
    import pytest


def _transaction(client: Any, copied: list[str], prefix: str) -> None:
    copied.clear()
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "fixes",
                    "Item": {"pk": {"S": f"{prefix}{i}"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            for i in range(5)
        ]
    )


def test_inside_the_block_a_transaction_copies_no_table_and_after_it_moto_is_its_own_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copied: list[str] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    moto_transaction, moto_visible = dynamodb_models.DynamoDBBackend.transact_write_items, sqs_models.Message.visible
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="fixes",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with fixes_in_process():
            _transaction(client, copied, "in")
            assert copied == []
            assert client.get_item(TableName="fixes", Key={"pk": {"S": "in4"}})["Item"] == {"pk": {"S": "in4"}}
        _transaction(client, copied, "after")
        assert copied == ["fixes"] * 5  # moto's own backup: the whole table, once per item naming it
    assert dynamodb_models.DynamoDBBackend.transact_write_items is moto_transaction
    assert sqs_models.Message.visible is moto_visible
    assert dynamodb_models.copy is copy  # type: ignore[attr-defined]
