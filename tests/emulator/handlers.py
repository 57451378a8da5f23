"""Handlers for tests/emulator/test_environments.py, run in the emulator's execution environments."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

# A slow init (INIT_SECONDS in the function's environment): cold starts long enough that three of them in a row
# cannot pass for three side by side, however loaded the machine.
time.sleep(float(os.environ.get("INIT_SECONDS", "0")))
IMPORTED_AT = time.time()


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event.get("hold", 0)))
    return {
        "pid": os.getpid(),
        "imported_at": IMPORTED_AT,
        "request_id": context.aws_request_id,
        "initialization_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        **event,
    }


def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
    began = time.time()
    seconds = event["seconds"] if "seconds" in event else event["queryStringParameters"]["seconds"]
    time.sleep(float(seconds))
    return {"pid": os.getpid(), "began": began, "ended": time.time()}


def raises(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("fail"):
        raise ValueError("the handler failed")
    return {"pid": os.getpid()}


def dies(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("die") or "Records" in event or "die" in (event.get("queryStringParameters") or {}):
        os.kill(os.getpid(), signal.SIGKILL)
    return {"pid": os.getpid()}


def counts_a_hit(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # One JSON line on stdout, flushed, as an app's function logs what a subscription filter picks up.
    print(json.dumps({"usage": "hit", "key": str(event["key"]), "at": int(time.time())}), flush=True)
    return {"statusCode": 200, "body": "{}"}


def records(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Takes ``seconds`` per batch and answers which messages it held."""
    time.sleep(0.3)
    return {"pid": os.getpid(), "ids": [r["messageId"] for r in event.get("Records", [])]}
