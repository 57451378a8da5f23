"""Another SAM app on the emulator: a template that is not Pregen's, run with no hooks, as `python -m
aws_emulator.stack --template ...` runs it. Its route answers over HTTP, its queue's consumer is fed by the
emulator's poller, and its table is DynamoDB's (moto here)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest

from aws_emulator.stack import AppHooks, LocalStack, StackOptions, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

TINY = Path(__file__).parent / "tiny" / "template.yaml"


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[dict[str, object]]:
    options = StackOptions(
        port=free_port(),
        state_file=tmp_path / "state.json",
        dynamodb="moto",
        runtime="inprocess",
        warm_engine=False,
        report=False,
        idle_seconds=None,
    )
    stack = LocalStack(options, AppHooks(template=TINY, parameters={"Greeting": "bonjour"}))
    state = stack.start()
    try:
        yield state
    finally:
        stack.stop()


def test_a_sam_app_that_is_not_pregen_runs_on_the_emulator(tiny: dict[str, object]) -> None:
    # When a client posts a note to the tiny app's route (no authorizer in its template)
    request = urllib.request.Request(
        f"{tiny['url']}/notes",
        data=json.dumps({"text": "first"}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        status, body = response.status, json.loads(response.read())
    # Then the route answers as the handler said, with the template's parameter as overridden
    assert (status, body) == (202, {"greeting": "bonjour", "queued": "first"})
    # And the queue's consumer, fed by the emulator's poller, counts the note in the app's own table
    table = tiny["tables"]["NotesTable"]  # type: ignore[index]
    assert _item(table, "first").get("seen") == {"N": "1"}
    # And the event the consumer put on the app's bus reached the rule's function, as EventBridge delivers it
    assert _item(table, "heard#first").get("type") == {"S": "Note Counted"}
    # And a resource whose condition is false for these parameters was not created
    assert "ShoutsQueue" not in tiny["queues"]  # type: ignore[operator]


def _item(table: str, key: str) -> dict[str, object]:
    dynamodb = boto3.client("dynamodb")
    deadline = time.monotonic() + 30
    item: dict[str, object] = {}
    while time.monotonic() < deadline and not item:
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": key}}).get("Item", {})
        time.sleep(0.1)
    return item
