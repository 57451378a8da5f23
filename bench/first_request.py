"""How long `make run` takes to serve its first request: the stack started as `make run` starts it (a process of its
own, empty tables), timed from the start of the process to the first answer of GET /v1/content (a miss: 202) and
to that content being served (200, after the worker generated it).

    python -m bench first_request [--runs 3] [--write]

DynamoDB Local must already be fetched (the test tier or a first `make run` does it): the download itself depends
on the network, not on Pregen.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import urllib.error
from pathlib import Path
from typing import TYPE_CHECKING

from bench.harness import Result, Scenario, free_port, http, option
from bench.harness.environment import stack_command, stack_env, stop_stack
from bench.report import percentile
from pregen_tools import tokens as dev_tokens

if TYPE_CHECKING:
    import argparse

QUERY = "/v1/content?kind=lesson&subject=Math&topic=First%20request&grade=5"


def _get(url: str, token: str) -> int:
    try:
        return http.get(url, token, timeout=30)[0]
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def one_run(timeout_s: float = 120) -> tuple[float, float]:
    """(seconds to the first answer, seconds to the content served), from the process's start."""
    folder = Path(tempfile.mkdtemp())
    state_file = folder / "stack.json"
    port = free_port()
    started = time.monotonic()
    with (folder / "stack.log").open("w") as log:
        process = subprocess.Popen(
            stack_command(port, state_file, "--fresh"),
            env=stack_env() | {"MODEL_LATENCY": "instant"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        token = dev_tokens.mint("bench-first", "student")
        url = f"http://127.0.0.1:{port}{QUERY}"
        first = served = None
        while time.monotonic() - started < timeout_s:
            if process.poll() is not None:
                raise RuntimeError(f"the stack stopped: {(folder / 'stack.log').read_text()[-2000:]}")
            status = _get(url, token) if state_file.exists() else 0
            if status and first is None:
                first = time.monotonic() - started
            if status == 200:
                served = time.monotonic() - started
                break
            time.sleep(0.1)
        if first is None or served is None:
            raise RuntimeError(f"no content within {timeout_s} s")
        return first, served
    finally:
        stop_stack(process)


def run(args: argparse.Namespace) -> Result:
    runs = [one_run() for _ in range(args.runs)]
    firsts, serves = [r[0] for r in runs], [r[1] for r in runs]
    lines = [
        "## First request after `make run`",
        "",
        f"Command: `.venv/bin/python -m bench first_request --runs {args.runs} --write`",
        "",
        "The stack started as `make run` starts it, in a process of its own with empty tables (`--fresh`; DynamoDB "
        "Local already fetched), timed from the process's start. Floor: the first request served within 60 s.",
        "",
        "| run | first answer (202) s | content served (200) s |",
        "|---|---|---|",
        *(f"| {i + 1} | {f:.1f} | {s:.1f} |" for i, (f, s) in enumerate(runs)),
        "",
        f"Median: first answer {percentile(firsts, 50):.1f} s, content served {percentile(serves, 50):.1f} s.",
    ]
    return Result("\n".join(lines), args.command, {"first": firsts, "served": serves})


SCENARIO = Scenario("first_request", __doc__, run, options=(option("--runs", type=int, default=3),))
