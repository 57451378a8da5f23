"""moto's SQS on a deep queue: moto's own per-message checks against the local moto server's (fix 3 of
aws_emulator.moto_server), side by side in one process.

    .venv/bin/python -m bench moto_sqs [--depth 3000] [--cycles 10] [--write]

Each cycle is what a poller does with a batch: one ReceiveMessage of 10, a DeleteMessage for each, and the
queue's depth read (ApproximateNumberOfMessages). Both variants run on the same in-process moto, on a queue filled
to ``--depth`` messages; the checks are swapped between rounds, moto's first.
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, option

if TYPE_CHECKING:
    import argparse


def _fill(sqs: Any, name: str, depth: int) -> str:
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    for start in range(0, depth, 10):
        entries = [{"Id": str(i), "MessageBody": "job"} for i in range(min(10, depth - start))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
    return url


def _cycles(sqs: Any, url: str, cycles: int) -> float:
    """Milliseconds per cycle (receive 10, delete them, read the depth)."""
    began = time.perf_counter()
    for _ in range(cycles):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return (time.perf_counter() - began) / cycles * 1000


def run(depth: int, cycles: int, rounds: int = 2) -> dict[str, list[float]]:
    import boto3
    from moto.sqs import models

    from aws_emulator.moto_server import sqs_checks_without_datetimes

    motos_own = {name: getattr(models.Message, name) for name in ("visible", "delayed", "had_receipt_handle")}
    sqs_checks_without_datetimes()
    fixed = {name: getattr(models.Message, name) for name in motos_own}
    results: dict[str, list[float]] = {"moto's checks": [], "the local server's checks": []}
    with Environment("moto"):
        sqs = boto3.client("sqs")
        for n in range(rounds):
            for label, checks in (("moto's checks", motos_own), ("the local server's checks", fixed)):
                for name, value in checks.items():
                    setattr(models.Message, name, value)
                url = _fill(sqs, f"bench-{n}-{len(results[label])}", depth)
                results[label].append(_cycles(sqs, url, cycles))
    for name, value in fixed.items():
        setattr(models.Message, name, value)
    return results


def markdown(results: dict[str, list[float]], depth: int, cycles: int, command: str) -> str:
    slow, fast = (statistics.median(v) for v in results.values())
    rows = "\n".join(
        f"| {label} | {' / '.join(f'{ms:.1f}' for ms in values)} | {statistics.median(values):.1f} |"
        for label, values in results.items()
    )
    return f"""## moto's SQS on a deep queue

Command: `{command}`

In-process moto, a queue filled to {depth:,} messages per round; a cycle is one ReceiveMessage of 10, a
DeleteMessage for each and one depth read, {cycles} cycles a round (the queue goes from {depth:,} to
{depth - 10 * cycles:,}). Python {sys.version.split()[0]}.

| per-message checks | ms per cycle, each round | median |
|---|---|---|
{rows}

The local server's checks / moto's: **{fast / slow:.3f}x** ({slow / fast:.1f} times fewer ms per cycle).
"""


def run_scenario(args: argparse.Namespace) -> Result:
    results = run(args.depth, args.cycles)
    command = ".venv/bin/python -m bench moto_sqs" + (
        f" --depth {args.depth} --cycles {args.cycles}" if (args.depth, args.cycles) != (3000, 10) else ""
    )
    text = markdown(results, args.depth, args.cycles, command + (" --write" if args.write else ""))
    return Result(text, args.command, results)


SCENARIO = Scenario(
    "moto_sqs",
    __doc__,
    run_scenario,
    options=(
        option("--depth", type=int, default=3000),
        option("--cycles", type=int, default=10),
    ),
)
