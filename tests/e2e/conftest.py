"""The local stack as a real process on loopback, as `make run` starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from aws_emulator.stack import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _run_stack(folder: Path) -> Iterator[dict[str, str]]:
    """Start the stack as `make run` does and yield its state. Its output goes to a file: a pipe nobody reads
    fills up (the functions log and print their metrics) and would freeze the stack mid-test."""
    state_file = folder / "stack.json"
    log = (folder / "stack.log").open("w")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    env["MODEL_LATENCY"] = "instant"  # `make run` has the realistic model; the suite's model answers at once
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pregen_tools.local_stack",
            "--port",
            str(port),
            "--state-file",
            str(state_file),
            # SQS time as on AWS, made short: a record failed without a backoff (and a dead invocation's batch) is
            # back after 10 s, and the worker's backoff is 1, 4, 16 s instead of 10, 40, 160 s.
            "--visibility-timeout",
            "10",
            "--env",
            "RETRY_BASE_DELAY_SECONDS=1",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            output = (folder / "stack.log").read_text()
            pytest.fail(f"the local stack did not start:\n{output}")
        time.sleep(0.2)
    state = json.loads(state_file.read_text())
    try:
        yield state
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    yield from _run_stack(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A stack of the module's own, for tests whose load (fuzzing) must not leave a backlog for the others."""
    yield from _run_stack(tmp_path_factory.mktemp("own-stack"))
