"""Analytics cost against items stored: the analytics use case over 100 and over 10,000 stored items (content
items and counter items alike), measured interleaved in one run against moto in-process.

    python -m bench analytics [--calls 200] [--write]
"""

from __future__ import annotations

import platform
import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, option
from bench.report import summary

if TYPE_CHECKING:
    import argparse

T0 = 1_800_000_000.0  # 2027-01-15


def _fill(client: Any, table: str, items: int, pk_prefix: str) -> None:
    for first in range(0, items, 25):
        client.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": f"{pk_prefix}{i:08d}"},
                                "sk": {"S": "totals" if pk_prefix.startswith("batch") else "stats"},
                                "hits": {"N": "1"},
                            }
                        }
                    }
                    for i in range(first, min(first + 25, items))
                ]
            }
        )


def run(args: argparse.Namespace) -> Result:
    import boto3

    from aws_emulator.template import Template
    from pregen.adapters.counters import DynamoCounters
    from pregen.adapters.queue import SqsJobQueue
    from pregen.domain.clock import FrozenClock
    from pregen.domain.models import Lane
    from pregen.services.analytics import AnalyticsDeps, analytics

    with Environment("moto"):
        deps: dict[int, AnalyticsDeps] = {}
        calls: dict[int, list[str]] = {}
        for stored in (100, 10_000):
            template = Template(overrides={"JwtIssuer": "https://bench.test", "JwtAudience": "bench"})
            resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix=f"b{stored}")
            client = boto3.client("dynamodb")
            seen: list[str] = []
            client.meta.events.register("before-call.dynamodb.*", lambda model, seen=seen, **_: seen.append(model.name))
            counters = DynamoCounters(resources.tables["CountersTable"], client)
            for day in range(1, 31):
                counters.add(f"2027-01-{day:02d}", {"generated#lesson": 3, "hits#lesson": 9, "misses#lesson": 3}, T0)
            _fill(client, resources.tables["ContentTable"], stored, "v1-lesson-")
            _fill(client, resources.tables["CountersTable"], stored, "batch#")
            urls = resources.queue_urls
            lanes = {Lane.INTERACTIVE: urls["InteractiveQueue"], Lane.BACKGROUND: urls["BackgroundQueue"]}
            deps[stored] = AnalyticsDeps(
                counters=counters,
                queue=SqsJobQueue(lanes),
                queue_urls={"interactive": urls["InteractiveQueue"], "background": urls["BackgroundQueue"]},
                clock=FrozenClock(T0),
            )
            seen.clear()
            calls[stored] = seen
        timings: dict[int, list[float]] = {100: [], 10_000: []}
        for _ in range(args.calls):  # interleaved, so both sizes see the same machine
            for stored, dep in deps.items():
                started = time.perf_counter()
                figures = analytics("2027-01-01", "2027-01-30", dep)
                timings[stored].append((time.perf_counter() - started) * 1000)
                assert figures["totalGenerated"] == 90
    small, large = summary(timings[100]), summary(timings[10_000])
    per_call = {stored: len(seen) / args.calls for stored, seen in calls.items()}
    text = "\n".join(
        [
            f"`{args.command}` on {platform.machine()}, Python "
            f"{platform.python_version()}, moto in-process; a 30-day window, {args.calls} calls per size, interleaved.",
            "",
            "| items stored (content + counters) | DynamoDB requests per call | p50 ms | p99 ms |",
            "|---|---|---|---|",
            f"| 100 + 100 | {per_call[100]:.0f} ({', '.join(sorted(set(calls[100])))}) | {small['p50']:.2f} | "
            f"{small['p99']:.2f} |",
            f"| 10,000 + 10,000 | {per_call[10_000]:.0f} ({', '.join(sorted(set(calls[10_000])))}) | "
            f"{large['p50']:.2f} | {large['p99']:.2f} |",
            "",
            f"Ratio 10,000 / 100: requests {per_call[10_000] / per_call[100]:.2f}, p50 latency "
            f"{large['p50'] / small['p50']:.2f}. Plus two GetQueueAttributes per call (the queues).",
        ]
    )
    named = {"requests_per_call": per_call, "p50_ms": {100: small["p50"], 10_000: large["p50"]}}
    return Result(text, args.command, named, sections={"analytics": "## Analytics\n\n" + text})


SCENARIO = Scenario("analytics", __doc__, run, options=(option("--calls", type=int, default=200),))
