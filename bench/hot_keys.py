"""Hot keys: one warm get-content environment serving a Zipf workload, with and without the hot-key cache
(``pregen.adapters.hot_content``), side by side on the same request sequence, interleaved request by request.

    .venv/bin/python -m bench hot_keys [--keys 1000] [--requests 4000] [--zipf 1.1] [--rate 50] [--ttl 5]
                                       [--round-trip-ms 4] [--personal 0.05] [--write]

The content table is the template's, on moto in-process, filled with ``--keys`` shared lessons (and one personal
item per learner for the ``--personal`` share of requests, which the cache must never keep). Each request goes
through ``serve_content`` (the hit line printed, the key computed) with the DynamoDB store of the serving wiring,
plain or hot. Time for the cache's TTL is simulated: the environment serves ``--rate`` requests a second, so
``--ttl`` seconds cover ttl x rate requests. ``--round-trip-ms`` adds the network round trip a real GetItem has
(moto answers in-process); 0 measures moto as it is.
"""

from __future__ import annotations

import os
import platform
import random
import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, option
from bench.report import percentile

if TYPE_CHECKING:
    import argparse

NOW = 1_900_000_000.0


class Ticker:
    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


def run_scenario(args: argparse.Namespace) -> Result:
    with Environment("moto"):
        text = run(args)
    return Result(
        text, args.command, sections={"hot_keys": "## Hot keys: the hot-key cache under a Zipf workload\n\n" + text}
    )


def _quiet(usage_log: Any) -> None:
    import logging

    logging.getLogger("pregen").setLevel(logging.WARNING)
    usage_log.set_sink(lambda line: None)  # the hit lines are not what this measures


def run(args: argparse.Namespace) -> str:
    import boto3

    from aws_emulator.template import Template
    from pregen import usage_log
    from pregen.adapters.content import DynamoContentStore
    from pregen.adapters.ddb import content_item
    from pregen.adapters.hot_content import HotContentStore
    from pregen.domain.clock import FrozenClock
    from pregen.domain.keys import cache_key
    from pregen.domain.models import Caller, ContentRequest
    from pregen.domain.records import StoredContent
    from pregen.services.content import Hit, ServeDeps, serve_content
    from pregen_fakes.memory import MemoryCounters, MemoryJobStore

    _quiet(usage_log)
    resources = Template(overrides={"JwtIssuer": "b", "JwtAudience": "b"}).provision(
        boto3.client("dynamodb"), boto3.client("sqs"), prefix="hot"
    )
    table = resources.tables["ContentTable"]
    client = boto3.client("dynamodb")
    reads = {"n": 0}

    def round_trip(**_: Any) -> None:
        reads["n"] += 1
        if args.round_trip_ms:
            time.sleep(args.round_trip_ms / 1000)

    client.meta.events.register("before-call.dynamodb.GetItem", round_trip)
    plain = DynamoContentStore(table, client)
    ticker = Ticker()
    hot = HotContentStore(DynamoContentStore(table, client), ttl_seconds=args.ttl, max_items=args.items, ticker=ticker)
    rng = random.Random(args.seed)
    learners = [Caller(sub=f"learner-{i}") for i in range(50)]
    shared = [ContentRequest(kind="lesson", subject="Physics", topic=f"topic {i}", grade="9") for i in range(args.keys)]
    personal = ContentRequest(kind="lesson", subject="Physics", topic="my notes", grade="9", scope="personal")
    body = {"title": "t", "sections": [{"heading": "h", "body": "x" * 3000}]}

    def store_item(request: ContentRequest, caller: Caller) -> None:
        owner = caller.sub if request.scope.value == "personal" else None
        stored = StoredContent(cache_key(request, caller), "lesson", body, {"version_id": "v1"}, owner, NOW, NOW + 1e6)
        client.put_item(TableName=table, Item=content_item(stored))  # moto copies a table per transaction: slow

    for request in shared:
        store_item(request, learners[0])
    for learner in learners:
        store_item(personal, learner)
    weights = [1 / rank**args.zipf for rank in range(1, args.keys + 1)]
    sequence = [
        (personal, rng.choice(learners))
        if rng.random() < args.personal
        else (rng.choices(shared, weights)[0], rng.choice(learners))
        for _ in range(args.requests)
    ]
    deps = {
        name: ServeDeps(
            store=store,
            jobs=MemoryJobStore(),
            claims=None,  # hits only: every key is stored first
            queue=None,
            counters=MemoryCounters(),
            clock=FrozenClock(NOW),
        )  # type: ignore[arg-type]
        for name, store in (("plain", plain), ("hot", hot))
    }
    times: dict[str, list[float]] = {"plain": [], "hot": []}
    ddb_reads = {"plain": 0, "hot": 0}
    for request, caller in sequence:
        ticker.at += 1 / args.rate
        for name in ("plain", "hot"):  # interleaved: both see the same moment of the machine
            before = reads["n"]
            started = time.perf_counter()
            outcome = serve_content(request, caller, deps[name])
            times[name].append((time.perf_counter() - started) * 1000)
            ddb_reads[name] += reads["n"] - before
            assert isinstance(outcome, Hit)
    personal_requests = sum(1 for r, _ in sequence if r is personal)
    assert hot.from_memory <= args.requests - personal_requests  # personal content never came from memory
    return _report(
        args,
        times=times,
        ddb_reads=ddb_reads,
        from_memory=hot.from_memory,
        personal_requests=personal_requests,
        top=weights[0] / sum(weights),
    )


def _report(
    args: argparse.Namespace,
    *,
    times: dict[str, list[float]],
    ddb_reads: dict[str, int],
    from_memory: int,
    personal_requests: int,
    top: float,
) -> str:
    saved = 1 - ddb_reads["hot"] / ddb_reads["plain"]
    p50 = {name: percentile(t, 50) for name, t in times.items()}
    p99 = {name: percentile(t, 99) for name, t in times.items()}
    command = (
        f".venv/bin/python -m bench hot_keys --keys {args.keys} --requests {args.requests} --zipf {args.zipf:g} "
        f"--rate {args.rate:g} --ttl {args.ttl:g} --round-trip-ms {args.round_trip_ms:g} "
        f"--personal {args.personal:g} --write"
    )
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; moto in-process "
        f"with {args.round_trip_ms:g} ms added to each GetItem (a network round trip). One warm environment serving "
        f"{args.rate:g} requests/s (simulated time), {args.requests} requests: Zipf({args.zipf:g}) over {args.keys} "
        f"shared lessons (the hottest {100 * top:.1f} % of shared requests) and {personal_requests} personal "
        f"requests; cache TTL {args.ttl:g} s, at most {args.items} items. Every request is a hit through "
        "`serve_content`; the two stores take turns request by request on the same sequence.",
        "",
        "| store | GetItem requests | answered from memory | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
        f"| plain (DynamoDB every time) | {ddb_reads['plain']} | 0 | {p50['plain']:.2f} | {p99['plain']:.2f} |",
        f"| hot-key cache | {ddb_reads['hot']} | {from_memory} | {p50['hot']:.2f} | {p99['hot']:.2f} |",
        "",
        f"**The cache saves {100 * saved:.0f} % of the GetItems** (hottest key: "
        f"{top * args.rate * (1 - args.personal):.1f} reads/s from this environment without it, at most "
        f"1 per {args.ttl:g} s with it); p50 {p50['plain'] / p50['hot']:.1f}x faster. Personal requests were "
        f"never answered from memory: {from_memory} memory answers <= {args.requests - personal_requests} "
        f"shared requests. Staleness allowed: {args.ttl:g} s after a vote or a regeneration changes the "
        "served version.",
    ]
    return "\n".join(lines)


SCENARIO = Scenario(
    "hot_keys",
    __doc__,
    run_scenario,
    options=(
        option("--keys", type=int, default=1000),
        option("--requests", type=int, default=4000),
        option("--zipf", type=float, default=1.1),
        option("--rate", type=float, default=50, help="requests a second one environment serves"),
        option("--ttl", type=float, default=5.0, help="HOT_CACHE_SECONDS"),
        option("--items", type=int, default=256, help="HOT_CACHE_ITEMS"),
        option("--round-trip-ms", type=float, default=4.0),
        option("--personal", type=float, default=0.05, help="share of requests for personal content"),
        option("--seed", type=int, default=7),
    ),
)
