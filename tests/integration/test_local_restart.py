"""What lets `make run` keep its data between runs, on DynamoDB Local as the stack runs it: the data stays in its
directory, tables provisioned again are used as they are, and a stream poller started again resumes after the last
record it delivered (the event source mapping keeps its position) instead of counting everything again."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from aws_emulator import dynamodb_local
from aws_emulator.streams import StreamPoller
from aws_emulator.template import FunctionSpec, Template

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.dynamodb_local


class _Recorder:
    spec = FunctionSpec(logical_id="Recorder", module="", handler="", timeout=10, environment={})

    def __init__(self) -> None:
        self.keys: list[str] = []

    def invoke(self, event: dict[str, Any]) -> None:
        self.keys += [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]


@contextmanager
def _run(data: Path) -> Iterator[dict[str, Any]]:
    """One run of the stack's DynamoDB: DynamoDB Local on ``data``, with the template's tables provisioned."""
    if os.environ.get("PREGEN_SKIP_DYNAMODB_LOCAL") == "1":
        pytest.skip("PREGEN_SKIP_DYNAMODB_LOCAL=1")
    server = dynamodb_local.start(db_path=data)
    try:
        aws = {"region_name": "us-east-1", "aws_access_key_id": "local", "aws_secret_access_key": "local"}
        dynamodb = boto3.client("dynamodb", endpoint_url=server.endpoint, **aws)
        streams = boto3.client("dynamodbstreams", endpoint_url=server.endpoint, **aws)
        sqs = boto3.client("sqs", endpoint_url=server.endpoint, **aws)  # never called: no queue is created below

        class _NoQueues(Template):
            def of_type(self, kind: str) -> dict[str, Any]:
                return {} if kind == "AWS::SQS::Queue" else super().of_type(kind)

        resources = _NoQueues().provision(dynamodb, sqs)
        yield {"dynamodb": dynamodb, "streams": streams, "resources": resources}
    finally:
        server.stop()


def test_content_and_the_stream_position_survive_a_restart(tmp_path: Path) -> None:
    data, checkpoint = tmp_path / "dynamodb-data", tmp_path / "dynamodb-data" / "stream-positions.json"
    with _run(data) as first:
        table = first["resources"].tables["ContentTable"]
        arn = first["resources"].stream_arns["ContentTable"]
        first["dynamodb"].put_item(TableName=table, Item={"pk": {"S": "before-restart"}, "sk": {"S": "content"}})
        delivered = _Recorder()
        poller = StreamPoller(
            first["streams"], stream_arn=arn, function=delivered, batch_size=100, checkpoint=checkpoint
        )
        for _ in range(20):
            if poller.poll_once():
                break
        assert delivered.keys == ["before-restart"]
    with _run(data) as second:  # make run again: the same directory
        assert second["resources"].tables["ContentTable"] == table
        key = {"pk": {"S": "before-restart"}, "sk": {"S": "content"}}
        assert "Item" in second["dynamodb"].get_item(TableName=table, Key=key)
        second["dynamodb"].put_item(TableName=table, Item={"pk": {"S": "after-restart"}, "sk": {"S": "content"}})
        arn = second["resources"].stream_arns["ContentTable"]
        again = _Recorder()
        poller = StreamPoller(second["streams"], stream_arn=arn, function=again, batch_size=100, checkpoint=checkpoint)
        for _ in range(5):
            poller.poll_once()
        assert again.keys == ["after-restart"]  # what was delivered before the restart is not delivered again
