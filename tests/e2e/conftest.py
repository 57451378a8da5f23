"""The local stack as a real process on loopback, as `make run` starts it."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

from aws_emulator.stack import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _run_stack(folder: Path, extra_env: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Start the stack as `make run` does and yield its state. Its output goes to a file: a pipe nobody reads
    fills up (the functions log and print their metrics) and would freeze the stack mid-test."""
    state_file = folder / "stack.json"
    log = (folder / "stack.log").open("w")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}
    env["MODEL_LATENCY"] = "instant"  # `make run` has the realistic model; the suite's model answers at once
    env.update(extra_env or {})
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


WEBHOOK_KEY = "e2e-webhook-key"


class WebhookReceiver(http.server.BaseHTTPRequestHandler):
    """An app's backend as the webhook reaches it: every POST kept with the time it arrived."""

    received: list[tuple[float, dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        WebhookReceiver.received.append((time.time(), dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def webhook() -> Iterator[type[WebhookReceiver]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebhookReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    WebhookReceiver.url = f"http://127.0.0.1:{server.server_port}/pregen-events"  # type: ignore[attr-defined]
    yield WebhookReceiver
    server.shutdown()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, webhook: type[WebhookReceiver]) -> Iterator[dict[str, str]]:
    """The suite's stack, with the webhook on (``WEBHOOK_URL``, as an app developer would start it)."""
    hook = {"WEBHOOK_URL": webhook.url, "WEBHOOK_KEY": WEBHOOK_KEY}  # type: ignore[attr-defined]
    yield from _run_stack(tmp_path_factory.mktemp("stack"), hook)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A stack of the module's own, for tests whose load (fuzzing) must not leave a backlog for the others."""
    yield from _run_stack(tmp_path_factory.mktemp("own-stack"))
