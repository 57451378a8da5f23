"""Hits at saturation against a bare GetItem on the same DynamoDB Local, in one run, with each figure's load; then a
warm get-content environment's REPORT duration, one hit at a time.

    .venv/bin/python -m bench hit_saturation [--clients 16] [--keys 400] [--phase 10] [--rounds 2] [--write]

The stack runs as its own process, as ``make run`` starts it. ``--keys`` lessons are warmed until each is a hit;
then, ``--rounds`` times, ``--clients`` closed-loop clients (threads of this process, a keep-alive connection each)
ask for hits through the HTTP front for ``--phase`` seconds, and the same number of clients send bare boto3
GetItems of the same content items straight to the stack's DynamoDB Local for as long. The phases alternate, so
a change in the machine's load reaches both sides alike; the ratio of each pair is reported beside the machine's
load while it ran (cores busy from /proc/stat, whoever used them, and the 1-minute load average). An error is any
answer other than 200, or a failed request.

Last, one client asks for ``--serial`` hits one after another and the stack's own REPORT durations of
get-content (``/dashboard/environments``: the last 2,000 invocations, so only these) give the warm handler's p50.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_emulator.environments import PoolFigures
from bench.harness import Environment, Result, Scenario, http, option
from bench.harness.environment import FAKE_AWS
from bench.harness.http import KeepAlive
from bench.harness.machine import Load
from bench.load import warm
from bench.open_loop import cpu_by_component
from bench.report import percentile

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

FUNCTION = "GetContentFunction"
FLOOR = 0.5  # hits/s over bare GetItems/s (issue 34)
REPORT_FLOOR_MS = 3.0  # a warm environment's hit, its REPORT duration p50 (issue 34)
REPORT_WINDOW = PoolFigures().duration_ms.maxlen or 0  # the invocations whose durations the stack's figures keep


@dataclass
class Phase:
    """One side's closed-loop run: what it did, and the machine meanwhile."""

    side: str
    seconds: float = 0.0
    done: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    busy_cores: float = 0.0
    load_average: float = 0.0
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per process, per request

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


def closed_loop(side: str, workers: list[Callable[[], str | None]], seconds: float, stack_pid: int) -> Phase:
    """Each worker (one per client) called in its own thread, again and again, for ``seconds``; a worker returns
    None for a good answer, else what went wrong."""
    phase = Phase(side)
    lock = threading.Lock()
    go = threading.Event()
    stop_at = [0.0]

    def client(work: Callable[[], str | None]) -> None:
        mine: list[float] = []
        errors: dict[str, int] = {}
        go.wait()
        while (started := time.perf_counter()) < stop_at[0]:
            error = work()
            if error is None:
                mine.append((time.perf_counter() - started) * 1000)
            else:
                errors[error] = errors.get(error, 0) + 1
        with lock:
            phase.latencies_ms += mine
            for error, n in errors.items():
                phase.errors[error] = phase.errors.get(error, 0) + n

    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in workers]
    for thread in threads:
        thread.start()
    cpu_before, load = cpu_by_component(stack_pid), Load()
    started = time.perf_counter()
    stop_at[0] = started + seconds
    go.set()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    phase.seconds = time.perf_counter() - started
    cpu_after = cpu_by_component(stack_pid)
    load.stop()
    phase.done = len(phase.latencies_ms)
    phase.busy_cores, phase.load_average = load.busy_cores, load.load_average
    requests = max(1, phase.done + sum(phase.errors.values()))
    phase.cpu_ms = {k: (v - cpu_before.get(k, 0.0)) * 1000 / requests for k, v in cpu_after.items()}
    return phase


def hit_workers(url: str, tokens: list[str], paths: list[str]) -> list[Callable[[], str | None]]:
    def worker(token: str, offset: int) -> Callable[[], str | None]:
        conn, headers, turn = KeepAlive(url), {"authorization": f"Bearer {token}"}, [offset]

        def hit() -> str | None:
            turn[0] += 1
            status = conn.send("GET", paths[turn[0] % len(paths)], headers)
            return None if status == 200 else str(status)

        return hit

    return [worker(token, i * 97) for i, token in enumerate(tokens)]


def getitem_workers(endpoint: str, table: str, keys: list[str], clients: int) -> list[Callable[[], str | None]]:
    import boto3
    import botocore.config
    import botocore.exceptions

    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=FAKE_AWS["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
        config=botocore.config.Config(max_pool_connections=clients + 4),
    )

    def worker(offset: int) -> Callable[[], str | None]:
        turn = [offset]

        def get_item() -> str | None:
            turn[0] += 1
            try:
                found = client.get_item(
                    TableName=table, Key={"pk": {"S": keys[turn[0] % len(keys)]}, "sk": {"S": "content"}}
                )
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                return type(exc).__name__
            return None if "Item" in found else "no item"

        return get_item

    return [worker(i * 97) for i in range(clients)]


def serial_reports(url: str, token: str, paths: list[str], count: int) -> dict[str, Any]:
    """``count`` hits one after another; the stack's REPORT durations of get-content over them (the figures keep
    the last 2,000 invocations) and the machine's load meanwhile."""
    conn, headers = KeepAlive(url), {"authorization": f"Bearer {token}"}
    load, started = Load(), time.perf_counter()
    errors = sum(conn.send("GET", paths[i % len(paths)], headers) != 200 for i in range(count))
    seconds = time.perf_counter() - started
    load.stop()
    conn.close()
    figures: dict[str, Any] = http.get(url + "/dashboard/environments", timeout=30)[1].get(FUNCTION, {})
    return {
        "hits": count,
        "errors": errors,
        "client_ms_p50": round(seconds * 1000 / count, 2),
        "report_ms_p50": figures.get("durationMsP50"),
        "report_ms_p99": figures.get("durationMsP99"),
        "environments": figures.get("environments"),
        "busy_cores": load.busy_cores,
        "load_average": load.load_average,
    }


def content_keys(url: str, token: str, paths: list[str]) -> list[str]:
    """The cache key each warm path serves (the content item's partition key)."""
    keys = []
    for path in paths:
        status, body = http.get(url + path, token, timeout=30)
        if status != 200:
            raise SystemExit(f"{path} is not a hit: {status}")
        keys.append(body["key"])
    return keys


def run(args: argparse.Namespace) -> dict[str, Any]:
    from pregen_tools import tokens as dev_tokens

    with Environment("emulator") as stack:
        assert stack.process is not None
        url, state = stack.url, stack.state
        admin = dev_tokens.mint("saturation-warmer", "admin")
        paths = warm(url, admin, args.keys, timeout_s=600)  # 400 generations on a busy machine
        keys = content_keys(url, admin, paths)
        tokens = [dev_tokens.mint(f"saturation-{i}") for i in range(args.clients)]
        hits = hit_workers(url, tokens, paths)
        getitems = getitem_workers(state["dynamodb_endpoint"], state["tables"]["ContentTable"], keys, args.clients)
        # Warm-up, not measured: both sides' connections opened, get-content's pool grown to what the clients need.
        closed_loop("hits", hits, 3, stack.process.pid)
        closed_loop("GetItem", getitems, 3, stack.process.pid)
        pairs = []
        for _ in range(args.rounds):
            pair = (
                closed_loop("hits", hits, args.phase, stack.process.pid),
                closed_loop("GetItem", getitems, args.phase, stack.process.pid),
            )
            print(f"hits {pair[0].rate:.0f}/s, GetItem {pair[1].rate:.0f}/s", flush=True)
            pairs.append(pair)
        serial = serial_reports(url, tokens[0], paths, args.serial)
    return {"pairs": pairs, "serial": serial}


def _cell(phase: Phase) -> str:
    errors = sum(phase.errors.values())
    return (
        f"{phase.rate:.0f} | {errors} | {percentile(phase.latencies_ms, 50):.1f} / "
        f"{percentile(phase.latencies_ms, 99):.1f} | {phase.busy_cores:.2f} | {phase.load_average:.1f}"
    )


def markdown(args: argparse.Namespace, figures: dict[str, Any]) -> tuple[str, bool]:
    pairs: list[tuple[Phase, Phase]] = figures["pairs"]
    serial = figures["serial"]
    hits = sum(p[0].done for p in pairs) / sum(p[0].seconds for p in pairs)
    getitems = sum(p[1].done for p in pairs) / sum(p[1].seconds for p in pairs)
    errors = sum(sum(p.errors.values()) for pair in pairs for p in pair) + serial["errors"]
    ratio = hits / getitems
    report_ok = serial["report_ms_p50"] is not None and serial["report_ms_p50"] <= REPORT_FLOOR_MS
    rows = [
        f"| {i} | {_cell(h)} | {_cell(g)} | **{h.rate / g.rate:.2f}x** |" for i, (h, g) in enumerate(pairs, start=1)
    ]
    components = sorted(
        {c for pair in pairs for p in pair for c in p.cpu_ms}, key=lambda c: -pairs[0][0].cpu_ms.get(c, 0)
    )
    cpu_rows = [
        f"| {c} | "
        + " | ".join(f"{sum(p[side].cpu_ms.get(c, 0) for p in pairs) / len(pairs):.2f}" for side in (0, 1))
        + " |"
        for c in components
        if any(p[side].cpu_ms.get(c, 0) >= 0.01 for p in pairs for side in (0, 1))
    ]
    cpu_rows.append(
        "| **all processes** | "
        + " | ".join(f"**{sum(sum(p[side].cpu_ms.values()) for p in pairs) / len(pairs):.2f}**" for side in (0, 1))
        + " |"
    )
    command = (
        f".venv/bin/python -m bench hit_saturation --clients {args.clients} --keys {args.keys} --phase {args.phase:g} "
        f"--rounds {args.rounds} --serial {args.serial} --write"
    )
    text = "\n".join(
        [
            f"Command: `{command}`",
            "",
            f"{args.clients} closed-loop clients (threads of the bench process, a keep-alive connection each) on "
            f"{args.keys} warm lessons: hits through the local stack's HTTP front (its own process, as `make run` "
            "starts it: JWT check, get-content in its execution environments, DynamoDB Local), against the same "
            f"number of clients sending bare boto3 GetItems of the same content items to the same DynamoDB Local. "
            f"The sides alternate, {args.phase:g} s each, so the machine's load reaches both alike; *cores busy*: "
            f"from /proc/stat during the phase, whoever used them ({os.cpu_count()} cores, shared with other "
            "engineers' work); *load*: the 1-minute load average at the phase's end.",
            "",
            "| round | hits/s | errors | hit p50 / p99 ms | cores busy | load | GetItem/s | errors | GetItem p50 / p99 "
            "ms | cores busy | load | hits / GetItem |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Over the run: {hits:.0f} hits/s against {getitems:.0f} GetItems/s: **{ratio:.2f}x** (floor "
            f"{FLOOR:g}x), {errors} errors: **{'met' if ratio >= FLOOR and errors == 0 else 'not met'}**.",
            "",
            "CPU per request by process (ms of CPU over each phase / its requests, mean of the rounds): where a hit's "
            "work goes, against a bare GetItem's.",
            "",
            "| process | per hit | per GetItem |",
            "|---|---|---|",
            *cpu_rows,
            "",
            f"A warm environment's hit, one at a time ({serial['hits']} hits, {serial['errors']} errors, cores busy "
            f"{serial['busy_cores']:.2f}, load {serial['load_average']:.1f}): get-content's REPORT duration p50 "
            f"**{serial['report_ms_p50']} ms**, p99 {serial['report_ms_p99']} ms (floor p50 ≤ {REPORT_FLOOR_MS:g} ms: "
            f"**{'met' if report_ok else 'not met'}**); the client's round trip p50 {serial['client_ms_p50']} ms.",
        ]
    )
    return text, ratio >= FLOOR and errors == 0 and report_ok


def run_scenario(args: argparse.Namespace) -> Result:
    figures = run(args)
    text, ok = markdown(args, figures)
    pairs = figures["pairs"]
    summary = {
        "pairs": [
            {p.side: {"rate": round(p.rate, 1), "errors": p.errors, "busy_cores": round(p.busy_cores, 2)} for p in pair}
            for pair in pairs
        ],
        "serial": figures["serial"],
    }
    return Result(text, args.command, summary, sections={"hit_saturation": "## Hits at saturation\n\n" + text}, ok=ok)


def check(args: argparse.Namespace) -> str | None:
    if args.serial < REPORT_WINDOW:
        return f"--serial must be at least {REPORT_WINDOW}: the stack's REPORT figures are its last {REPORT_WINDOW}"
    return None


SCENARIO = Scenario(
    "hit_saturation",
    __doc__,
    run_scenario,
    check=check,
    options=(
        option("--clients", type=int, default=16),
        option("--keys", type=int, default=400),
        option("--phase", type=float, default=10.0, help="seconds of each side's phase"),
        option("--rounds", type=int, default=2, help="pairs of phases (hits, then GetItem)"),
        option("--serial", type=int, default=2000, help="hits one at a time for the REPORT duration"),
    ),
)
