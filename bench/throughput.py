"""Worker throughput: items generated per second per unit of worker concurrency, with a generator of fixed
latency, against the theoretical maximum (concurrency / latency), for several concurrencies in one run.

    .venv/bin/python -m bench throughput [--latency 0.25] [--items-per-worker 40] [--generators sdk offline] [--write]

``sdk``: the worker's real generator, the anthropic SDK, talking HTTP to the fake Messages API (a process of its
own, answering after the latency); ``offline``: the offline generator in the worker, waiting out the latency.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, free_port, http, option
from bench.harness.machine import Load
from bench.report import DOC, ratio_chart

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator


GENERATORS = {
    "sdk": "anthropic SDK → fake Messages API (its own process)",
    "offline": "offline generator in the worker",
}


@contextlib.contextmanager
def fake_anthropic(latency: float) -> Iterator[str]:
    """The fake Messages API in a process of its own (as the real one is elsewhere), answering after ``latency``
    seconds; yields its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "pregen_fakes.fake_anthropic",
        "--port",
        str(port),
        "--latency",
        f"fixed:{latency:g}",
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        process.stdout.readline()  # its banner: listening
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def generator_env(generator: str, latency: float, cleanup: contextlib.ExitStack) -> dict[str, str]:
    """The worker's environment for ``generator``."""
    if generator == "offline":
        return {"MODEL_LATENCY": f"fixed:{latency:g}"}
    base_url = cleanup.enter_context(fake_anthropic(latency))
    # The key's presence picks the anthropic generator (pregen.wiring.worker); the fake checks one is sent.
    return {"ANTHROPIC_API_KEY": "fake-key", "ANTHROPIC_BASE_URL": base_url}


def run(concurrency: int, latency: float, items: int, generator: str = "sdk") -> tuple[float, dict[str, Any], Load]:
    """Seconds from enqueueing ``items`` distinct keys to the last one generated, the worker's figures from the
    stack's execution environments (invocation durations), and the cores busy on the machine meanwhile."""
    from pregen_tools import tokens as dev_tokens

    cleanup = contextlib.ExitStack()
    # The stack in this process puts its functions' environment in os.environ: the next run must not inherit it
    # (an offline run after an SDK run would call the fake that is gone).
    saved = dict(os.environ)
    cleanup.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
    options = {
        "local_concurrency": concurrency,
        # Provisioned concurrency's analogue: the worker's environments are initialised before the clock starts,
        # so the figure is the steady state, not three cold starts (bench.cold_start measures those).
        "provisioned": {"WorkerFunction": concurrency},
        "extra_env": generator_env(generator, latency, cleanup),
    }
    with cleanup, Environment("emulator", in_process=True, stack_options=options) as stack:
        state = stack.state
        # An admin pre-generates: a teacher's allowance (120 a minute) would cap the run before the worker does.
        admin = dev_tokens.mint("bench-ops", "admin")
        # Topics no two of which are near-duplicate candidates (word-set Jaccard < 0.5, pregen.domain.near): the
        # judge's extra model call is bench.near_dupes' subject, not this one's.
        requests = [
            {"kind": "lesson", "subject": "History", "topic": f"Unit{i} chapter{i}", "grade": "8"} for i in range(items)
        ]
        started, load = time.perf_counter(), Load()
        for chunk in range(0, items, 100):
            body = {"priority": 50, "requests": requests[chunk : chunk + 100]}
            status, answer = http.post(state["url"] + "/v1/pregenerate", admin, body)
            if status >= 300:
                raise SystemExit(f"POST /v1/pregenerate answered {status}: {answer}")
        deadline = started + items * latency * 3 + 60
        while time.perf_counter() < deadline:
            # The stack's own count of finished worker invocations (one item each: batch size 1), read from the
            # front without invoking a function; analytics, a function and several queries, is asked once at the end.
            worker: dict[str, Any] = http.get(state["url"] + "/dashboard/environments", timeout=30)[1].get(
                "WorkerFunction", {}
            )
            if worker.get("invocations", 0) >= items:
                seconds = time.perf_counter() - started
                # Another invocation (a schedule's) could have counted too: then it is not over yet.
                if http.get(state["url"] + "/v1/analytics", admin)[1].get("totalGenerated", 0) >= items:
                    return seconds, worker, load.stop()
            time.sleep(0.02)
        raise SystemExit(f"only part of {items} items was generated in time")


def run_scenario(args: argparse.Namespace) -> Result:
    rows = []
    efficiency: dict[str, float] = {}
    for concurrency in args.concurrency:
        for generator in args.generators:  # side by side: the SDK's cost is the difference at each concurrency
            items = args.items_per_worker * concurrency
            seconds, worker, load = run(concurrency, args.latency, items, generator)
            per_worker = items / seconds / concurrency
            efficiency[f"{concurrency} worker(s), {generator}"] = per_worker * args.latency
            rows.append(
                f"| {GENERATORS[generator]} | {concurrency} | {items} | {seconds:.1f} | **{items / seconds:.2f}** | "
                f"{per_worker:.2f} | {1 / args.latency:.2f} | {per_worker * args.latency:.0%} | "
                f"{worker.get('durationMsP50')} | {load.busy_cores:.2f} | {load.load_average:.1f} |"
            )
            print(rows[-1], flush=True)
    text = "\n".join(
        [
            f"Command: `.venv/bin/python -m bench throughput --latency {args.latency:g} "
            f"--items-per-worker {args.items_per_worker} --concurrency {' '.join(map(str, args.concurrency))} "
            f"--generators {' '.join(args.generators)} --write`",
            "",
            "Distinct lessons pre-generated on the interactive lane (batch size 1) through the local stack: HTTP "
            "front, SQS (moto), pollers feeding the real worker, DynamoDB Local; the generator takes "
            f"{args.latency:g} s. The worker's environments are provisioned (initialised with the stack, as "
            "provisioned concurrency would); the clock runs from the first `POST /v1/pregenerate` to the stack "
            "counting the last worker invocation (analytics then confirms every item generated, once). The generator: "
            "the anthropic SDK talking HTTP to the fake Messages API (`pregen_fakes.fake_anthropic`, a process of "
            "its own answering after the latency), or the offline generator waiting it out in the worker. *Cores "
            f"busy*: from /proc/stat over the run, whoever used them ({os.cpu_count()} cores, shared with other "
            "engineers' work); *load*: the 1-minute load average at its end.",
            "",
            "| generator | worker concurrency | items | seconds | items/s | items/s per worker | theoretical max per "
            "worker | efficiency | worker invocation p50 ms | cores busy | load |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Each worker invocation runs in an execution environment of its own (a process, one batch at a time; "
            "the lane's pollers are capped at the concurrency shown), DynamoDB is DynamoDB Local and SQS moto, "
            "each in its own process. The per-item overhead (SQS receive and delete, about ten DynamoDB requests: "
            "job, content check, lease, content and stats transaction, job done, lease end, counters) is CPU on the "
            "same 2 shared cores, so efficiency falls as workers are added while those cores are busy; on Lambda "
            "each worker instance has its own CPU.",
        ]
    )
    chart = ""
    if args.write:
        title = "items/s per worker vs the theoretical maximum (1.0 = 1 / latency)"
        chart = "\n\n" + ratio_chart(DOC.parent / "throughput.png", title, efficiency)
    section = "## Worker throughput\n\n" + text + chart
    return Result(text, args.command, {"efficiency": efficiency}, sections={"throughput": section})


SCENARIO = Scenario(
    "throughput",
    __doc__,
    run_scenario,
    options=(
        option("--latency", type=float, default=0.25, help="seconds per generation"),
        option("--items-per-worker", type=int, default=40),
        option("--concurrency", type=int, nargs="+", default=[1, 2, 4]),
        option("--generators", nargs="+", choices=sorted(GENERATORS), default=["sdk", "offline"]),
    ),
)
