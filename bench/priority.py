"""Priority under load: an interactive request's time to content with thousands of background jobs queued, against
the same request on an idle system, in one run on the local stack (moto server, the SQS pollers, the HTTP front).

    .venv/bin/python -m bench priority [--backlog 3000] [--samples 8] [--latency 2] [--write]

Each sample is a fresh key (so it is a real miss): ``GET /v1/content`` over HTTP → 202 → poll ``/v1/jobs/{id}``
every 50 ms until done; time to content is from the first request to the answer holding the content. The worker
generates with the offline generator and a fixed latency (``--latency``). The backlog goes in through
``POST /v1/pregenerate`` (50 jobs a call, priority 30) with every poller running; each call's time is kept. The
background lane keeps working through it while the interactive samples run; its depth is read before and after
each sample.
"""

from __future__ import annotations

import contextlib
import io
import os
import platform
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option

if TYPE_CHECKING:
    import argparse

QUESTION = {"kind": "question_set", "subject": "Chemistry", "grade": "10", "question_type": "multiple_choice"}


def time_to_content(base: str, token: str, topic: str) -> float:
    url = f"{base}/v1/content?" + urllib.parse.urlencode({**QUESTION, "topic": topic})
    started = time.perf_counter()
    status, body = http.get(url, token)
    if status == 200:
        raise SystemExit(f"{topic} was already cached: not a fair sample")
    if status != 202:
        raise SystemExit(f"unexpected answer {status}: {body}")
    job_url = f"{base}/v1/jobs/{body['job_id']}"
    deadline = started + 600
    while time.perf_counter() < deadline:
        _, job = http.get(job_url, token)
        if job.get("status") == "done" and job.get("content"):
            return time.perf_counter() - started
        if job.get("status") == "failed":
            raise SystemExit(f"the sample failed: {job}")
        time.sleep(0.05)
    raise SystemExit("no content within 600 s")


def fill_backlog(base: str, jobs: int, run: str, per_call: int = 50) -> list[float]:
    """Queue ``jobs`` background jobs through ``POST /v1/pregenerate`` (``per_call`` a call, priority 30) while
    the pollers run; returns each call's seconds. One operator per 1,000 jobs: an admin's allowance is 1,000
    generations a minute (RateLimits)."""
    from pregen_tools import tokens as dev_tokens

    seconds = []
    for start in range(0, jobs, per_call):
        token = dev_tokens.mint(f"bench-ops-{run}-{start // 1000}", "admin")
        requests = [
            {**QUESTION, "subject": "Backlog", "topic": f"warming item {run} {i}"}
            for i in range(start, min(start + per_call, jobs))
        ]
        began = time.perf_counter()
        status, answer = http.post(f"{base}/v1/pregenerate", token, {"priority": 30, "requests": requests}, timeout=120)
        if status >= 300:
            raise SystemExit(f"POST /v1/pregenerate answered {status}: {answer}")
        seconds.append(time.perf_counter() - began)
    return seconds


def depth(sqs: Any, queue_url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def run_scenario(args: argparse.Namespace) -> Result:

    from pregen_tools import tokens as dev_tokens

    options = {"extra_env": {"MODEL_LATENCY": f"fixed:{args.latency:g}"}}
    with Environment("emulator", in_process=True, stack_options=options) as stack:
        state = stack.state
        import boto3

        token = dev_tokens.mint("bench-learner", "student")
        sqs = boto3.client("sqs")
        background = state["queues"]["BackgroundQueue"]
        run = uuid.uuid4().hex[:6]
        with contextlib.redirect_stdout(io.StringIO()):  # the functions' log lines
            time_to_content(state["url"], token, f"warm-up {run}")
            idle = [time_to_content(state["url"], token, f"idle {run} {i}") for i in range(args.samples)]
            # The backlog goes in through the API, 50 jobs a call, with every poller running (as on a real day).
            filled = time.perf_counter()
            calls = fill_backlog(state["url"], args.backlog, run)
            fill_seconds = time.perf_counter() - filled
            loaded: list[float] = []
            depths: list[int] = []
            for i in range(args.samples):
                depths.append(depth(sqs, background))
                loaded.append(time_to_content(state["url"], token, f"loaded {run} {i}"))
                depths.append(depth(sqs, background))
            drained = (depths[0] - depths[-1]) / max(sum(loaded), 1e-9)
    text = report(args, idle, loaded, depths, drained_per_s=drained, fill_seconds=fill_seconds, calls=calls)
    figures = {"idle_s": idle, "loaded_s": loaded, "pregenerate_call_s": calls}
    return Result(
        text, args.command, figures, sections={"priority": "## Priority under a background backlog\n\n" + text}
    )


def report(
    args: argparse.Namespace,
    idle: list[float],
    loaded: list[float],
    depths: list[int],
    *,
    drained_per_s: float,
    fill_seconds: float,
    calls: list[float],
) -> str:
    idle_p50, loaded_p50 = statistics.median(idle), statistics.median(loaded)
    wait_behind = depths[-1] / drained_per_s if drained_per_s > 0 else float("inf")
    return "\n".join(
        [
            f"Command: `.venv/bin/python -m bench priority --backlog {args.backlog} --samples {args.samples} "
            f"--latency {args.latency:g} --write`",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; the local "
            "stack (every function in its own execution environments, pollers capped at 4 workers a lane, "
            f"DynamoDB Local, moto for SQS); generator latency {args.latency:g} s. Each sample is a fresh key: 202, "
            "then the job polled every 50 ms until done.",
            "",
            "| interactive request (priority 50) | samples | p50 s | max s | background queue depth during samples |",
            "|---|---|---|---|---|",
            f"| idle system | {len(idle)} | {idle_p50:.2f} | {max(idle):.2f} | 0 |",
            f"| {args.backlog:,} background jobs queued | {len(loaded)} | {loaded_p50:.2f} | {max(loaded):.2f} "
            f"| {min(depths):,} to {max(depths):,} |",
            "",
            f"Loaded / idle (p50): **{loaded_p50 / idle_p50:.2f}x** (target ≤ 1.5x). The backlog was queued "
            f"through `POST /v1/pregenerate`, {len(calls)} calls of 50 jobs, in {fill_seconds:.1f} s with the "
            f"background pollers running: slowest call {max(calls):.2f} s, median {statistics.median(calls):.2f} s "
            f"(target: none over 5 s). It drained at {drained_per_s:.1f} jobs/s during the samples; a request in "
            f"the same lane behind it would have waited about {wait_behind / 60:.0f} min (the remaining depth at "
            "that rate).",
        ]
    )


SCENARIO = Scenario(
    "priority",
    __doc__,
    run_scenario,
    options=(
        option("--backlog", type=int, default=3000, help="background jobs queued through the API"),
        option("--samples", type=int, default=8),
        option("--latency", type=float, default=2.0, help="seconds per generation"),
    ),
)
