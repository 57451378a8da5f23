"""Exam claims against a real DynamoDB engine (DynamoDB Local): N concurrent claims race for M ready exams with
no lock around requests (unlike the moto tests), and a single uncontended claim is timed for comparison.

    java -jar DynamoDBLocal.jar -inMemory -sharedDb -port 8011   # from the npm package amplify-dynamodb-simulator
    DYNAMODB_LOCAL_URL=http://127.0.0.1:8011 .venv/bin/python -m bench exam_claims [--claims 50] [--ready 10] [--write]

Section messages are collected in memory and handed to the worker's section handler (offline generator), so
this measures the inventory's DynamoDB work only.
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3

from bench.harness import Result, Scenario, option
from bench.report import summary
from pregen.adapters.activity import DynamoActivity
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.exams import DynamoExamInventory
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.config.functions import InventorySettings
from pregen.domain.clock import SystemClock
from pregen.domain.models import Caller
from pregen.domain.programs import default_catalogue
from pregen.messages import SectionMessage
from pregen.services.exam_generation import ExamWorkerDeps, generate_exam_section
from pregen.services.exams import Claimed, ExamDeps, claim_exam, replenish
from pregen_fakes.memory import MemoryCounters
from pregen_fakes.queues import MemoryQueue

if TYPE_CHECKING:
    import argparse

    from mypy_boto3_dynamodb import DynamoDBClient


def _table(client: DynamoDBClient, name: str) -> None:
    client.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _policy(target: int) -> InventorySettings:
    """The inventory's defaults, with this many ready exams per learner and type."""
    return InventorySettings.model_validate({"INVENTORY_TARGET": target})


def run(url: str, claims: int, ready: int) -> dict[str, Any]:
    client = boto3.client(
        "dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    exams_table, counters_table = f"exams-{uuid.uuid4().hex[:8]}", f"counters-{uuid.uuid4().hex[:8]}"
    _table(client, exams_table)
    _table(client, counters_table)
    queue = MemoryQueue()
    deps = ExamDeps(
        inventory=DynamoExamInventory(exams_table, DynamoCounters(counters_table, client), client),
        activity=DynamoActivity(counters_table, client),
        queue=queue,
        clock=SystemClock(),
        catalogue=default_catalogue(),
        policy=_policy(ready),
        counters=MemoryCounters(),
    )
    worker = ExamWorkerDeps(
        inventory=deps.inventory,
        generator=OfflineGenerator(),
        counters=MemoryCounters(),
        clock=deps.clock,
        catalogue=deps.catalogue,
        policy=deps.policy,
    )
    sub = "bench-learner"
    started = time.perf_counter()
    replenish(sub, "diagnostic", 30, deps)
    for i, message in enumerate(list(queue.messages)):
        generate_exam_section(SectionMessage.model_validate(message), receive_count=1, worker_id=f"w{i}", deps=worker)
    seed_s = time.perf_counter() - started
    deps.policy = _policy(0)  # the race is about the claims, not the top-ups behind them
    caller = Caller(sub=sub)

    def timed_claim(_: int) -> tuple[Any, float]:
        t = time.perf_counter()
        outcome = claim_exam(caller, "diagnostic", deps)
        return outcome, (time.perf_counter() - t) * 1000

    with ThreadPoolExecutor(max_workers=claims) as pool:
        results = list(pool.map(timed_claim, range(claims)))
    won = [o.exam.exam_id for o, _ in results if isinstance(o, Claimed)]
    # One uncontended claim at a time, for comparison (fresh exams for a second learner).
    deps.policy = _policy(ready)
    solo_caller = Caller(sub="bench-solo")
    queue.messages.clear()
    replenish(solo_caller.sub, "diagnostic", 30, deps)
    for i, message in enumerate(list(queue.messages)):
        generate_exam_section(SectionMessage.model_validate(message), receive_count=1, worker_id=f"s{i}", deps=worker)
    deps.policy = _policy(0)
    solo = []
    for _ in range(ready):
        t = time.perf_counter()
        assert isinstance(claim_exam(solo_caller, "diagnostic", deps), Claimed)
        solo.append((time.perf_counter() - t) * 1000)
    contended = summary([ms for _, ms in results])
    alone = summary(solo)
    return {
        "claims": claims,
        "ready": ready,
        "claimed": len(won),
        "distinct": len(set(won)),
        "seed_s": round(seed_s, 2),
        "contended_ms": contended,
        "solo_ms": alone,
        "ratio_p50": round(contended["p50"] / alone["p50"], 2) if alone["p50"] else None,
    }


def run_scenario(args: argparse.Namespace) -> Result:
    url = os.environ.get("DYNAMODB_LOCAL_URL", "http://127.0.0.1:8011")
    result = run(url, args.claims, args.ready)
    c, s = result["contended_ms"], result["solo_ms"]
    text = "\n".join(
        [
            "## Exam claims on DynamoDB Local",
            "",
            f"`DYNAMODB_LOCAL_URL={url} .venv/bin/python -m bench exam_claims --claims {args.claims} "
            f"--ready {args.ready} --write` (DynamoDB Local from `amplify-dynamodb-simulator`, no lock "
            "around requests):",
            "",
            f"- {result['claims']} concurrent claims against {result['ready']} ready exams: "
            f"**{result['claimed']} claimed, {result['distinct']} distinct**; the others waited (202).",
            "",
            "| claim | p50 ms | p99 ms | mean ms |",
            "|---|---|---|---|",
            f"| {result['claims']} at once | {c['p50']:.1f} | {c['p99']:.1f} | {c['mean']:.1f} |",
            f"| one at a time | {s['p50']:.1f} | {s['p99']:.1f} | {s['mean']:.1f} |",
            "",
            f"Contended / uncontended p50: {result['ratio_p50']}x. Seeding {result['ready']} exams "
            f"(8 sections each, offline generator) took {result['seed_s']} s.",
            "",
            f"Machine: {os.cpu_count()} cores shared with other work; {result['claims']} Python threads and "
            "DynamoDB Local compete for them, so the contended figure is mostly queueing on this machine, "
            "not DynamoDB's. The correctness line is the point: every exam went to exactly one claim.",
        ]
    )
    return Result(text, f"DYNAMODB_LOCAL_URL={url} {args.command}", result)


SCENARIO = Scenario(
    "exam_claims",
    __doc__,
    run_scenario,
    options=(option("--claims", type=int, default=50), option("--ready", type=int, default=10)),
)
