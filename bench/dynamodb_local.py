"""DynamoDB Local's CPU per request with the JVM's defaults against the options the stack starts it with
(aws_emulator.dynamodb_local.JVM_OPTIONS), side by side in one run: a fresh engine each, the same mix of requests
from 4 writers (conditional PutItem, GetItem, counter UpdateItem, a two-item transaction), in rounds, since the
first minutes of a stack (its JIT warming) are what a benchmark or a demo sees.

    .venv/bin/python -m bench dynamodb_local [--rounds 3] [--write]
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import Result, Scenario, option

if TYPE_CHECKING:
    import argparse

WRITERS = 4
PER_WRITER = 100  # each: 4 requests


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _client(endpoint: str) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def _work(endpoint: str, prefix: str) -> None:
    client = _client(endpoint)
    for i in range(PER_WRITER):
        key = {"pk": {"S": f"{prefix}-{i}"}, "sk": {"S": "a"}}
        client.put_item(
            TableName="bench", Item={**key, "v": {"S": "x" * 800}}, ConditionExpression="attribute_not_exists(pk)"
        )
        client.get_item(TableName="bench", Key=key)
        client.update_item(
            TableName="bench",
            Key={"pk": {"S": f"counter{i % 7}"}, "sk": {"S": "a"}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "bench", "Item": {"pk": {"S": f"{prefix}-t{i}"}, "sk": {"S": "a"}}}},
                {
                    "Update": {
                        "TableName": "bench",
                        "Key": {"pk": {"S": "counter"}, "sk": {"S": "t"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ]
        )


def measure(jvm_options: tuple[str, ...], rounds: int) -> list[tuple[float, float]]:
    """(requests per second, engine CPU ms per request) for each round on a fresh engine."""
    from aws_emulator import dynamodb_local

    server = dynamodb_local.start(jvm_options=jvm_options)
    try:
        _client(server.endpoint).create_table(
            TableName="bench",
            **dynamodb_local.PK_SK_TABLE,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        results = []
        requests = WRITERS * PER_WRITER * 4
        for n in range(rounds):
            cpu, began = _cpu_seconds(server.process.pid), time.perf_counter()
            writers = [threading.Thread(target=_work, args=(server.endpoint, f"r{n}w{w}")) for w in range(WRITERS)]
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
            seconds = time.perf_counter() - began
            results.append((requests / seconds, (_cpu_seconds(server.process.pid) - cpu) / requests * 1000))
        return results
    finally:
        server.stop()


def run(args: argparse.Namespace) -> Result:
    from aws_emulator.dynamodb_local import JVM_OPTIONS

    default = measure((), args.rounds)
    ours = measure(JVM_OPTIONS, args.rounds)
    rows = [
        f"| {n + 1} | {d_rate:.0f} | {d_cpu:.2f} | {o_rate:.0f} | {o_cpu:.2f} | {o_cpu / d_cpu:.2f}x |"
        for n, ((d_rate, d_cpu), (o_rate, o_cpu)) in enumerate(zip(default, ours, strict=True))
    ]
    text = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench dynamodb_local --rounds {args.rounds} --write`",
            "",
            f"A fresh DynamoDB Local per configuration, {WRITERS} writers, {WRITERS * PER_WRITER * 4} requests per "
            "round (conditional PutItem, GetItem, counter UpdateItem, two-item transaction); engine CPU from "
            f"/proc. The stack's options: `{' '.join(JVM_OPTIONS)}`.",
            "",
            "| round | JVM defaults: requests/s | CPU ms/request | stack's options: requests/s | CPU ms/request "
            "| CPU ratio |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    figures = {"jvm_defaults": default, "stack_options": ours}
    return Result(
        text, args.command, figures, sections={"dynamodb_local": "## DynamoDB Local's JVM options\n\n" + text}
    )


SCENARIO = Scenario("dynamodb_local", __doc__, run, options=(option("--rounds", type=int, default=3),))
