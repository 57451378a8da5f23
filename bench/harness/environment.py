"""Where a scenario runs: in memory (nothing to stand up), on moto in this process, or on the local stack (the
emulator: a process of its own, or in this process where a scenario reaches into its pools and hooks)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# The local stack's module: run as ``python -m STACK_MODULE``; its ``build(StackOptions)`` is the emulator with
# Pregen's hooks (aws_emulator.stack holds StackOptions, free_port and DEFAULT_CONCURRENCY).
STACK_MODULE = "pregen_tools.local_stack"

Kind = Literal["memory", "moto", "emulator"]
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def stack_module() -> Any:
    return importlib.import_module(STACK_MODULE)


def free_port() -> int:
    """A free TCP port on loopback (the stack's own helper)."""
    from aws_emulator.stack import free_port as emulator_free_port

    port: int = emulator_free_port()
    return port


@dataclass
class Environment:
    """``with Environment("moto"):`` ... The emulator's ``state`` is its state file (``url``, ``queues``, ...);
    ``in_process`` runs the stack here, its ``LocalStack`` in ``stack``; ``stack_options`` go to its
    ``StackOptions`` (in process) and ``stack_args`` to its command line (its own process)."""

    kind: Kind
    in_process: bool = False
    stack_options: dict[str, Any] = field(default_factory=dict)
    stack_args: tuple[str, ...] = ()
    # The model's time in the emulator (MODEL_LATENCY, pregen.domain.model_time): named by every run, so a figure
    # says the latency it ran at. "instant" measures the platform alone; a scenario about model work passes its own.
    model_latency: str = "instant"
    state: dict[str, Any] = field(default_factory=dict)
    stack: Any = None
    process: subprocess.Popen[str] | None = None
    _exit: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start(self) -> Environment:
        """Stand the environment up (``with`` does it); ``stop`` takes it down."""
        if self.kind == "moto":
            from moto import mock_aws

            os.environ.update(FAKE_AWS)
            os.environ.pop("AWS_ENDPOINT_URL", None)
            self._exit.enter_context(mock_aws())
        elif self.kind == "emulator" and self.in_process:
            from aws_emulator.stack import StackOptions

            quiet = {"report": False, "access_log": False}  # no line per invocation or request: it costs CPU
            options = {"port": free_port(), "state_file": _state_file()} | quiet | self.stack_options
            options["extra_env"] = {"MODEL_LATENCY": self.model_latency} | dict(options.get("extra_env") or {})
            self.stack = stack_module().build(StackOptions(**options))
            self._exit.callback(self.stack.stop)
            self.state = self.stack.start()
        elif self.kind == "emulator":
            self.process, self.state = start_stack(*self.stack_args, model_latency=self.model_latency)
            self._exit.callback(stop_stack, self.process)
        return self

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> Environment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        url: str = self.state["url"]
        return url


def _state_file() -> Path:
    return Path(tempfile.mkdtemp(prefix="pregen-bench-")) / "stack.json"


def stack_command(port: int, state_file: Path, *args: str) -> list[str]:
    """The command line that runs the local stack as its own process."""
    return [sys.executable, "-m", STACK_MODULE, "--port", str(port), "--state-file", str(state_file), *args]


def stack_env() -> dict[str, str]:
    """This process's environment without its AWS and Anthropic settings (the stack sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ANTHROPIC_"))}


def start_stack(
    *args: str, model_latency: str = "instant", timeout_s: float = 90
) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The local stack as its own process (as ``make run`` starts it) on a free port, quiet, without this shell's
    AWS and Anthropic settings, its model taking ``model_latency``; returns the process and its state file once it
    is up."""
    state_file = _state_file()
    env = stack_env() | {"PREGEN_LOG_LEVEL": "ERROR", "MODEL_LATENCY": model_latency}
    command = stack_command(free_port(), state_file, *args)
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + timeout_s
    while not state_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("the local stack did not start")
        time.sleep(0.2)
    time.sleep(0.2)
    return process, json.loads(state_file.read_text())


def stop_stack(process: subprocess.Popen[Any]) -> None:
    """Stop a stack started by ``start_stack`` (or any process): terminate, then kill after 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
