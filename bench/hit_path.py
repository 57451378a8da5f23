"""Hit path: the get-content handler in-process and the same request through the local HTTP front, against a
bare boto3 GetItem of the same item (the limit), measured interleaved in one run on the local stack.

    .venv/bin/python -m bench hit_path [--requests 500] [--write]
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, free_port, http, option
from bench.report import DOC, ratio_chart, summary

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

EVENTS = Path(__file__).resolve().parents[1] / "events"
QUERY = {"kind": "lesson", "subject": "Physics", "topic": "Newton's laws", "grade": "9"}


def wait_for_hit(url: str, token: str) -> dict[str, Any]:
    status, body = http.get(url, token, timeout=30)
    deadline = time.monotonic() + 60
    while status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        status, body = http.get(url, token, timeout=30)
    if status != 200:
        raise SystemExit(f"the item never became a hit: {status} {body}")
    return body


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: names plus values (binary and strings by length, numbers approximated)."""
    size = 0
    for name, value in item.items():
        size += len(name.encode())
        ((kind, raw),) = value.items()
        if kind == "B":
            size += len(raw)
        elif kind == "S":
            size += len(raw.encode())
        elif kind == "N":
            size += len(raw) // 2 + 1
        elif kind == "M":
            size += 3 + item_size(raw)
        else:
            size += len(json.dumps(raw))
    return size


def measure(runners: dict[str, Callable[[], None]], requests: int) -> dict[str, list[float]]:
    """Interleave the runners request by request so that machine noise hits them all alike."""
    timings: dict[str, list[float]] = {name: [] for name in runners}
    # The handlers print their EMF metrics to stdout, as on Lambda; keep them out of the report.
    with contextlib.redirect_stdout(io.StringIO()):
        for runner in runners.values():  # warm every path first
            for _ in range(20):
                runner()
        for _ in range(requests):
            for name, runner in runners.items():
                started = time.perf_counter()
                runner()
                timings[name].append((time.perf_counter() - started) * 1000)
    return timings


def build_runners(state: dict[str, Any], url: str, token: str, key: str) -> dict[str, Callable[[], None]]:
    import boto3

    from aws_emulator.runtime import LambdaContext
    from functions.get_content import app as get_content

    client = boto3.client("dynamodb")
    table = state["tables"]["ContentTable"]
    event = json.loads((EVENTS / "get_content.json").read_text())
    event["queryStringParameters"] = QUERY
    event["rawQueryString"] = url.split("?", 1)[1]
    event["requestContext"]["authorizer"]["jwt"]["claims"].update(
        {"sub": "bench-learner", "cognito:groups": "[student]"}
    )

    def bare() -> None:
        client.get_item(TableName=table, Key={"pk": {"S": key}, "sk": {"S": "content"}})

    def in_process() -> None:
        response = get_content.lambda_handler(event, LambdaContext(function_name="bench", timeout_s=10))
        assert response["statusCode"] == 200

    def over_http() -> None:
        assert http.get(url, token, timeout=30)[0] == 200

    return {
        "bare GetItem (the limit)": bare,
        "get-content handler in-process": in_process,
        "HTTP front (JWT check + handler)": over_http,
    }


def capacity(state: dict[str, Any], key: str) -> tuple[int, float, int, int]:
    import boto3

    client = boto3.client("dynamodb")
    table = state["tables"]["ContentTable"]
    content = client.get_item(TableName=table, Key={"pk": {"S": key}, "sk": {"S": "content"}})["Item"]
    stats = client.get_item(TableName=table, Key={"pk": {"S": key}, "sk": {"S": "stats"}})["Item"]
    size, stats_size = item_size(content), item_size(stats)
    return size, math.ceil(size / 4096) * 0.5, stats_size, math.ceil(stats_size / 1024)


def report(
    args: argparse.Namespace,
    results: dict[str, dict[str, float]],
    *,
    requests_per_hit: float,
    kinds: list[str],
    sizes: tuple[int, float, int, int],
    delay_ms: float,
) -> str:
    base = next(iter(results.values()))
    delays = " ".join(f"{d:g}" for d in args.delays_ms)
    heading = (
        "moto as it is (its request handling is CPU in one Python process)"
        if not delay_ms
        else f"with a simulated {delay_ms:g} ms network round trip per DynamoDB request (a real table's latency is "
        "mostly network and service time)"
    )
    lines = [
        f"### {heading[0].upper()}{heading[1:]}",
        "",
        f"Command: `.venv/bin/python -m bench hit_path --requests {args.requests} --delays-ms {delays} --write`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}. DynamoDB is "
        "moto server in its own process on loopback; the ratios to the bare GetItem, measured interleaved in the "
        "same run, are the result. A hit is one GetItem; it is counted from its log line (pregen/usage_log.py), "
        "off the request path.",
        "",
        "| path | p50 ms | p99 ms | p50 vs GetItem | p99 vs GetItem |",
        "|---|---|---|---|---|",
    ]
    for name, figures in results.items():
        lines.append(
            f"| {name} | {figures['p50']:.2f} | {figures['p99']:.2f} | {figures['p50'] / base['p50']:.2f}x "
            f"| {figures['p99'] / base['p99']:.2f}x |"
        )
    size, rcu, stats_size, wcu = sizes
    lines += [
        "",
        f"DynamoDB requests per hit: {requests_per_hit:.2f} ({', '.join(kinds)}). Content item {size} bytes (body "
        f"compressed) → {rcu} RCU per eventually consistent read. No write on the hit path: the usage aggregator adds "
        f"a batch of logged hits to each key's stats item ({stats_size} bytes → {wcu} WCU) once per batch, not per "
        "hit. A hit never rewrites the content item.",
    ]
    return "\n".join(lines)


def _wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"moto server did not listen on port {port}")


def run(args: argparse.Namespace) -> Result:
    runs = [run_once(args, delay_ms) for delay_ms in args.delays_ms]
    text = "\n\n".join(section for section, _ in runs)
    ratios = {
        f"{name} ({'moto as it is' if not delay_ms else f'{delay_ms:g} ms round trip'})": ratio
        for (_, run_ratios), delay_ms in zip(runs, args.delays_ms, strict=True)
        for name, ratio in run_ratios.items()
    }
    chart = ""
    if args.write:
        chart = "\n\n" + ratio_chart(DOC.parent / "hit-path.png", "p50 latency vs a bare GetItem", ratios, target=1.5)
    return Result(
        text, args.command, {"p50_ratio_to_getitem": ratios}, sections={"hit_path": "## Hit path\n\n" + text + chart}
    )


def run_once(args: argparse.Namespace, delay_ms: float) -> tuple[str, dict[str, float]]:
    """One run against a fresh moto server: the report's section, and each path's p50 ratio to the GetItem."""

    from pregen_tools import tokens as dev_tokens

    # moto runs in its own process, as DynamoDB runs elsewhere: in-process it would share our GIL and serialise
    # the hit's two parallel requests.
    moto_port = free_port()
    moto = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aws_emulator.moto_server",
            "--port",
            str(moto_port),
            "--concurrent-dynamodb",
            "--delay-ms",
            str(delay_ms),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(moto_port)
    stack = Environment(
        "emulator",
        in_process=True,
        stack_options={
            "aws_endpoint": f"http://127.0.0.1:{moto_port}",
            "dynamodb": "moto",  # the delayed moto above: the ratios compare paths on one engine
        },
    )
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(moto.terminate)
        state = cleanup.enter_context(stack).state
        token = dev_tokens.mint("bench-learner", "student")
        url = state["url"] + "/v1/content?" + urllib.parse.urlencode(QUERY)
        key = wait_for_hit(url, token)["key"]
        runners = build_runners(state, url, token, key)

        from pregen.wiring.serve import serve_deps

        calls: list[str] = []
        serve_deps().store.client.meta.events.register(  # type: ignore[attr-defined]
            "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
        )
        timings = measure(runners, args.requests)
        # Counted in this process: the in-process handler's hits (and its warm-up); the HTTP front's run in the
        # stack's execution environments, processes of their own.
        requests_per_hit = len(calls) / (args.requests + 20)
        results = {n: summary(t) for n, t in timings.items()}
        base = next(iter(results.values()))["p50"]
        text = report(
            args,
            results,
            requests_per_hit=requests_per_hit,
            kinds=sorted(set(calls)),
            sizes=capacity(state, key),
            delay_ms=delay_ms,
        )
    return text, {name: figures["p50"] / base for name, figures in results.items()}


SCENARIO = Scenario(
    "hit_path",
    __doc__,
    run,
    options=(
        option("--requests", type=int, default=500),
        option(
            "--delays-ms",
            type=float,
            nargs="+",
            default=[0.0, 4.0],
            help="simulated network round trips to DynamoDB, one run each (0: moto as it is)",
        ),
    ),
)
