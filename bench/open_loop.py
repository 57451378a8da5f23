"""Open-loop hits: requests sent at a fixed rate whatever the answers take, on warm keys, through the local stack.

    .venv/bin/python -m bench open_loop                       # 50, 100, 150, 200, 300 hits/s, 30 s each
    .venv/bin/python -m bench open_loop --rates 100 --duration 30 --write

A closed-loop client (bench.load) waits for each answer before it sends the next request, so a slow stack slows
its own load down and its tail hides. Here request i leaves at ``start + i / rate`` from a pool of keep-alive
connections, and its latency counts from that planned instant: time spent waiting for a free connection is
latency too (no coordinated omission). Every request is a hit (200) on one of ``--keys`` warm keys; anything else
is an error. The stack runs as its own process (``python -m pregen_tools.local_stack``), as ``make run`` starts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, option
from bench.harness.http import KeepAlive
from bench.load import warm
from bench.report import percentile

if TYPE_CHECKING:
    import argparse


@dataclass
class Run:
    rate: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ms: float | None, error: str | None) -> None:
        with self.lock:
            if error is None and ms is not None:
                self.latencies_ms.append(ms)
            else:
                self.errors[str(error)] = self.errors.get(str(error), 0) + 1


def _sender(url: str, token: str, work: queue.Queue[tuple[float, str] | None], run: Run) -> None:
    conn = KeepAlive(url)
    headers = {"authorization": f"Bearer {token}"}
    while (item := work.get()) is not None:
        planned, path = item
        status = conn.send("GET", path, headers)
        if isinstance(status, str):
            run.record(None, status)
            continue
        ms = (time.perf_counter() - planned) * 1000
        run.record(ms, None if status == 200 else f"status {status}")
    conn.close()


def run_rate(url: str, token: str, paths: list[str], rate: float, duration_s: float, *, connections: int) -> Run:
    run = Run(rate)
    work: queue.Queue[tuple[float, str] | None] = queue.Queue()
    senders = [threading.Thread(target=_sender, args=(url, token, work, run), daemon=True) for _ in range(connections)]
    for sender in senders:
        sender.start()
    start = time.perf_counter() + 0.1
    total = int(rate * duration_s)
    for i in range(total):
        planned = start + i / rate
        delay = planned - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work.put((planned, paths[i % len(paths)]))
    for _ in senders:
        work.put(None)
    for sender in senders:
        sender.join(timeout=60)
    return run


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _component(pid: int) -> str:
    args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    text = " ".join(a.decode(errors="replace") for a in args)
    if "DynamoDBLocal.jar" in text:
        return "DynamoDB Local (java)"
    if "aws_emulator.moto_server" in text:
        return "moto server (SQS, ...)"
    if "aws_emulator.environment" in text:
        return f"environments of {args[6].decode()}" if len(args) > 6 else "environments"
    return "stack process (front, pollers, log routing)"


def cpu_by_component(stack_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the stack's process and each of its children, grouped by what they are (Linux)."""
    pids = [stack_pid]
    for task in Path(f"/proc/{stack_pid}/task").glob("*"):  # a child belongs to the thread that started it
        with contextlib.suppress(OSError):
            pids += [int(p) for p in (task / "children").read_text().split()]
    totals: dict[str, float] = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            name = _component(pid)
            totals[name] = totals.get(name, 0.0) + _cpu_seconds(pid)
    totals["this client (load generator)"] = time.process_time()
    return totals


def figures(run: Run, duration_s: float) -> dict[str, Any]:
    samples = run.latencies_ms
    return {
        "rate": run.rate,
        "duration_s": duration_s,
        "requests": len(samples) + sum(run.errors.values()),
        "errors": sum(run.errors.values()),
        "error_kinds": run.errors,
        "p50_ms": round(percentile(samples, 50), 1),
        "p90_ms": round(percentile(samples, 90), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1) if samples else float("nan"),
    }


def markdown(results: list[dict[str, Any]], command: str, keys: int, connections: int, limit_ms: float) -> str:
    ok = [r["rate"] for r in results if r["errors"] == 0 and r["p99_ms"] <= limit_ms]
    rows = [
        f"| {r['rate']:g} | {r['requests']} | {r['errors']} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} | "
        f"{r['max_ms']} |"
        for r in results
    ]
    best = f"{max(ok):g} hits/s" if ok else "none of the rates tried"
    components = [
        c
        for c in (results[0]["cpu_ms_per_hit"] if results else {})
        if any(r["cpu_ms_per_hit"].get(c, 0) >= 0.01 for r in results)
    ]
    cpu_rows = [
        f"| {r['rate']:g} | "
        + " | ".join(f"{r['cpu_ms_per_hit'].get(c, 0):.2f}" for c in components)
        + f" | {sum(r['cpu_ms_per_hit'].values()):.2f} | {r['load_average']:.1f} |"  # the total: every process
        for r in results
    ]
    return "\n".join(
        [
            f"Command: `{command}`: hits on {keys} warm keys sent at a fixed rate over up to {connections} "
            "keep-alive connections; latency counts from each request's planned send time. Client and stack "
            "share the machine's 2 cores.",
            "",
            "| hits/s | requests | errors | p50 ms | p90 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Highest rate tried with 0 errors and p99 ≤ {limit_ms:g} ms: **{best}**.",
            "",
            "CPU per hit, by process (ms of CPU over the run / requests), and the machine's 1-minute load average "
            "at the end of each rate (2 cores; other engineers' work runs on them too):",
            "",
            "| hits/s | " + " | ".join(components) + " | total | load average |",
            "|---|" + "---|" * (len(components) + 2),
            *cpu_rows,
        ]
    )


def run_scenario(args: argparse.Namespace) -> Result:
    from pregen_tools import tokens as dev_tokens

    with Environment("emulator") as stack:
        assert stack.process is not None
        process, url = stack.process, stack.url
        paths = warm(url, dev_tokens.mint("open-loop-warmer", "admin"), args.keys)
        token = dev_tokens.mint("open-loop-learner")
        # Warm-up, not measured: connections opened, and GetContent's pool grown to what 100 hits/s need (its
        # environments' cold starts are the cold-start benchmark's subject, not this one's).
        run_rate(url, token, paths, 100, 5, connections=args.connections)
        results = []
        for rate in args.rates:
            before = cpu_by_component(process.pid)
            run = run_rate(url, token, paths, rate, args.duration, connections=args.connections)
            after = cpu_by_component(process.pid)
            result = figures(run, args.duration)
            requests = max(1, result["requests"])
            result["cpu_ms_per_hit"] = {
                k: round((v - before.get(k, 0.0)) * 1000 / requests, 2) for k, v in after.items()
            }
            result["load_average"] = os.getloadavg()[0]
            print(json.dumps(result), flush=True)
            results.append(result)
    rates = " ".join(f"{r:g}" for r in args.rates)
    command = f".venv/bin/python -m bench open_loop --rates {rates} --duration {args.duration:g} --write"
    text = markdown(results, command, args.keys, args.connections, args.p99_limit)
    return Result(text, args.command, {"rates": results}, sections={"open_loop": "## Open-loop hits\n\n" + text})


SCENARIO = Scenario(
    "open_loop",
    __doc__,
    run_scenario,
    options=(
        option("--rates", type=float, nargs="+", default=[50, 100, 150, 200, 300]),
        option("--duration", type=float, default=30.0, help="seconds at each rate"),
        option("--keys", type=int, default=20),
        option("--connections", type=int, default=64),
        option("--p99-limit", type=float, default=50.0),
    ),
)
