"""Joined miss: one environment's joined misses of one key, with its memory of markers off (JOIN_MEMO_SECONDS=0:
every miss sends the claim, cancelled on the marker) and on (2 s: the content's read alone) -- CPU per miss in the
environment's process (the service and botocore) and in DynamoDB Local, wall time and requests per miss.

In process: ``serve_content`` on the serving wiring against a fresh DynamoDB Local (warmed up as the stack warms
it); the SQS send of the one won miss is not made (a list takes it). Each configuration first makes 50 joined
misses unmeasured (this path's code and the engine's JIT warm), then ``--misses`` measured.

    .venv/bin/python -m bench joined_miss [--misses 400] [--write]
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import TYPE_CHECKING, Any
from unittest import mock

from bench.dynamodb_local import _cpu_seconds
from bench.harness import Result, Scenario, option

if TYPE_CHECKING:
    import argparse

    from pregen.domain.models import Lane

WARM_UP = 50
SETTINGS = {"off (JOIN_MEMO_SECONDS=0)": "0", "on (JOIN_MEMO_SECONDS=2)": "2"}


class _NoQueues:
    """The template's queues, named but not created: the measured path sends nothing."""

    def create_queue(self, QueueName: str, Attributes: dict[str, str]) -> dict[str, str]:
        return {"QueueUrl": f"http://sqs.invalid/{QueueName}"}

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:" + QueueUrl.rsplit("/", 1)[1]}}


class _Sent:
    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        pass

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        return []


def _measure(engine_pid: int, misses: int, seconds: str) -> dict[str, Any]:
    from botocore.client import BaseClient

    from pregen import wiring
    from pregen.config.base import load
    from pregen.config.settings import ServeSettings
    from pregen.domain.models import Caller, ContentRequest
    from pregen.services.content import Pending, serve_content
    from pregen.wiring.serve import serve_for

    os.environ["JOIN_MEMO_SECONDS"] = seconds
    wiring.reset()
    deps = serve_for(load(ServeSettings), hot=True)
    deps.queue = _Sent()  # type: ignore[assignment]
    request = ContentRequest(kind="lesson", subject="Physics", topic=f"Optics {seconds}", grade="9")
    assert isinstance(serve_content(request, Caller(sub="winner"), deps), Pending)
    for i in range(WARM_UP):
        serve_content(request, Caller(sub=f"warm-{i}"), deps)
    calls: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[operation] += 1
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", counted):
        engine, own, wall = _cpu_seconds(engine_pid), time.process_time(), time.perf_counter()
        for i in range(misses):
            out = serve_content(request, Caller(sub=f"learner-{i}"), deps)
            assert isinstance(out, Pending) and out.joined, out
        wall = time.perf_counter() - wall
        own, engine = time.process_time() - own, _cpu_seconds(engine_pid) - engine
    return {
        "service_cpu_ms": own / misses * 1000,
        "engine_cpu_ms": engine / misses * 1000,
        "wall_ms": wall / misses * 1000,
        "requests": sum(calls.values()) / misses,
        "calls": dict(calls),
    }


def run(args: argparse.Namespace) -> Result:
    import boto3

    from aws_emulator import dynamodb_local
    from aws_emulator.template import Template
    from pregen import usage_log, wiring

    server = dynamodb_local.start()
    previous = usage_log.set_sink(lambda line: None)
    aws = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": server.endpoint,
    }
    try:
        dynamodb_local.warm_up(server.host, server.port)
        with mock.patch.dict(os.environ, aws):
            template = Template(overrides={"JwtIssuer": "https://issuer.test", "JwtAudience": "pregen"})
            template.provision(boto3.client("dynamodb"), _NoQueues(), prefix="bench")  # type: ignore[arg-type]
            env = template.environment() | {"ANTHROPIC_API_KEY_PARAMETER": "", "CURSOR_KEY_SECRET": ""}
            env |= {"CURSOR_KEY": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR"}
            with mock.patch.dict(os.environ, {k: v for k, v in env.items() if k not in aws}):
                found = {name: _measure(server.process.pid, args.misses, s) for name, s in SETTINGS.items()}
    finally:
        usage_log.set_sink(previous)
        wiring.reset()
        server.stop()
    load = os.getloadavg()[0]
    rows = [
        f"| {name} | {f['service_cpu_ms']:.2f} | {f['engine_cpu_ms']:.2f} | {f['wall_ms']:.2f} | {f['requests']:g} "
        f"| {', '.join(f'{op} {n / args.misses:g}' for op, n in sorted(f['calls'].items()))} |"
        for name, f in found.items()
    ]
    text = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench joined_miss --misses {args.misses} --write` (load average "
            f"{load:.1f} after it; the machine's 2 cores shared)",
            "",
            f"{args.misses} joined misses of one key by one environment, one after another, after {WARM_UP} "
            "unmeasured; in process against a fresh DynamoDB Local. *Environment CPU*: this process (the service, "
            "botocore); *DynamoDB Local CPU*: the engine's, from /proc.",
            "",
            "| memory of markers | environment CPU ms per miss | DynamoDB Local CPU ms per miss | wall ms per miss "
            "| requests per miss | by API call |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    return Result(text, args.command, found | {"load": load}, sections={"joined_miss": "## Joined miss\n\n" + text})


SCENARIO = Scenario("joined_miss", __doc__, run, options=(option("--misses", type=int, default=400),))
