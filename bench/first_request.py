"""How long `make run` takes to serve its first request: the stack started as `make run` starts it (a process of its
own, empty tables), timed from the start of the process to the first answer of GET /v1/content (a miss: 202) and
to that content being served (200, after the worker generated it).

    python -m bench.first_request [--runs 3] [--write]

DynamoDB Local must already be fetched (the test tier or a first `make run` does it): the download itself depends
on the network, not on Pregen.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from aws_emulator.stack import free_port
from bench.load import stop_stack
from bench.report import percentile, write_section
from pregen_tools import tokens

QUERY = "/v1/content?kind=lesson&subject=Math&topic=First%20request&grade=5"


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0


def one_run(timeout_s: float = 120) -> tuple[float, float]:
    """(seconds to the first answer, seconds to the content served), from the process's start."""
    folder = Path(tempfile.mkdtemp())
    state_file = folder / "stack.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    port = free_port()
    args = ["--port", str(port), "--state-file", str(state_file), "--fresh"]
    started = time.monotonic()
    with (folder / "stack.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pregen_tools.local_stack", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        token = tokens.mint("bench-first", "student")
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    runs = [one_run() for _ in range(args.runs)]
    firsts, serves = [r[0] for r in runs], [r[1] for r in runs]
    lines = [
        "## First request after `make run`",
        "",
        f"Command: `.venv/bin/python -m bench.first_request --runs {args.runs} --write`",
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
    text = "\n".join(lines)
    print(text)
    print(json.dumps({"first": firsts, "served": serves}))
    if args.write:
        write_section("first_request", text)


if __name__ == "__main__":
    main()
