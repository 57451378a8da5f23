"""The local stack as a real process on loopback, as `make run` starts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from pregen_local.stack import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state_file: Path = tmp_path_factory.mktemp("stack") / "stack.json"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pregen_local.stack",
            "--port",
            str(port),
            "--state-file",
            str(state_file),
            "--retry-visibility",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stdout.read() if process.stdout else ""
            process.kill()
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
