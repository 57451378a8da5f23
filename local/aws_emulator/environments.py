"""Lambda's execution environments on one machine: per function, a pool of processes (aws_emulator.environment),
each handling one event at a time.

An invocation takes a warm idle environment (the most recently used), or starts a new one while the pool is below
the function's concurrency limit (its cold start), or waits for one to come free. A handler that raises answers
with an error and its environment stays, as on Lambda; one that runs past the function's Timeout is killed, and one
whose process dies is dropped: only that environment is lost, the next invocation starts another. Every invocation
ends with a line like Lambda's REPORT line, and the pool keeps the figures the dashboard shows.

What the environment prints is read here line by line and handed to ``log_sink(function, line)``, the way Lambda
ships an environment's output to the function's log group (the stack's log subscriptions read hit lines there).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from aws_emulator.console import say
from aws_emulator.environment import receive, send
from aws_emulator.template import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_emulator.template import FunctionSpec


class InvocationFailed(RuntimeError):
    """The function did not answer: its handler raised, it timed out, or its environment died."""

    def __init__(self, function: str, kind: str, message: str) -> None:
        super().__init__(f"{function}: {kind}: {message}")
        self.kind = kind


def _print_line(function: str, line: str) -> None:
    say(f"[{function}] {line}")


@dataclass
class Environment:
    """One process running one function's handler."""

    function: str
    number: int
    process: subprocess.Popen[bytes]
    sock: socket.socket
    init_ms: float = 0.0
    invocations: int = 0
    idle_since: float = 0.0  # time.monotonic() when it last went back to the pool
    readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        spec: FunctionSpec,
        number: int,
        log_sink: Callable[[str, str], None],
        initialization_type: str = "on-demand",
        nice: int = 0,
    ) -> Environment:
        parent, child = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env["AWS_LAMBDA_FUNCTION_NAME"] = spec.logical_id
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = initialization_type  # as Lambda sets it (handlers prime in init)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aws_emulator.environment",
                str(child.fileno()),
                spec.module,
                spec.handler,
                spec.logical_id,
                str(spec.timeout),
            ],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        child.close()
        if nice:  # a lower CPU priority (raising one's niceness needs no privilege)
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, process.pid, nice)
        environment = cls(spec.logical_id, number, process, parent)
        for stream in (process.stdout, process.stderr):
            assert stream is not None
            reader = threading.Thread(
                target=_forward, args=(stream, spec.logical_id, log_sink), name=f"log-{spec.logical_id}", daemon=True
            )
            reader.start()
            environment.readers.append(reader)
        parent.settimeout(max(60.0, float(spec.timeout)))  # the init phase: Lambda allows it 10 s, imports here
        ready = receive(parent)
        if ready is None:
            environment.kill()
            raise InvocationFailed(spec.logical_id, "Runtime.ExitError", "the environment exited during init")
        environment.init_ms = float(ready["init_ms"])
        return environment

    def invoke(self, event: dict[str, Any], request_id: str, timeout_s: float) -> Any:
        self.sock.settimeout(timeout_s)
        try:
            send(self.sock, {"id": request_id, "event": event})
            answer = receive(self.sock)
        except TimeoutError:
            self.kill()
            message = f"Task timed out after {timeout_s:.2f} seconds"
            raise InvocationFailed(self.function, "Sandbox.Timedout", message) from None
        except OSError as exc:
            answer = None
            error = str(exc)
        else:
            error = ""
        if answer is None:
            self.kill()
            code = self.process.returncode
            raise InvocationFailed(self.function, "Runtime.ExitError", f"the environment exited ({code}) {error}")
        self.invocations += 1
        if "error" in answer:
            raise InvocationFailed(self.function, str(answer["error"]), str(answer["message"]))
        return answer["result"]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.sock.close()

    def close(self) -> None:
        self.sock.close()  # the environment's loop ends when its socket closes
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


def _forward(stream: IO[bytes], function: str, log_sink: Callable[[str, str], None]) -> None:
    for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip("\n")
        with contextlib.suppress(Exception):  # a failing sink must not stop the log (its pipe would fill up)
            log_sink(function, line)


@dataclass
class PoolFigures:
    invocations: int = 0
    cold_starts: int = 0
    errors: int = 0
    timeouts: int = 0
    environments_lost: int = 0
    retired: int = 0  # idle past the pool's idle_seconds, and closed
    init_ms: deque[float] = field(default_factory=lambda: deque(maxlen=200))
    duration_ms: deque[float] = field(default_factory=lambda: deque(maxlen=2000))


class FunctionPool:
    """A function's execution environments, up to ``limit`` of them at once (its concurrency)."""

    def __init__(
        self,
        spec: FunctionSpec,
        limit: int,
        *,
        log_sink: Callable[[str, str], None] | None = None,
        report: Callable[[str], None] | None = None,
        idle_seconds: float | None = None,
        keep: int = 0,
        nice: int = 0,
    ) -> None:
        self.spec = spec
        self.limit = max(1, limit)
        # Lambda retires an environment left idle for a while; ``keep`` (provisioned) environments never are.
        self.idle_seconds = idle_seconds
        self.keep = keep
        self.nice = nice  # the environments' CPU priority (os.setpriority): 0 as the stack, higher yields to it
        self.log_sink: Callable[[str, str], None] = log_sink or _print_line
        self.report = report
        self.idle: list[Environment] = []
        self.busy = 0
        self.started = 0
        self.closed = False
        self.figures = PoolFigures()
        self.condition = threading.Condition()

    @property
    def size(self) -> int:
        """Environments alive now (idle or busy)."""
        with self.condition:
            return len(self.idle) + self.busy

    def _take(self) -> tuple[Environment | None, int]:
        """An idle environment, or (None, number) when a new one may be started; waits at the limit."""
        with self.condition:
            while True:
                if self.closed:
                    raise InvocationFailed(self.spec.logical_id, "Stopped", "the stack is stopping")
                if self.idle:
                    self.busy += 1
                    return self.idle.pop(), 0
                if self.busy < self.limit:
                    self.busy += 1
                    self.started += 1
                    return None, self.started
                self.condition.wait()

    def _give_back(self, environment: Environment | None) -> None:
        with self.condition:
            self.busy -= 1
            if environment is not None and not self.closed:
                environment.idle_since = time.monotonic()
                self.idle.append(environment)
            elif environment is not None:
                environment.close()
            self.condition.notify()

    def warm(self, count: int = 1) -> None:
        """Start ``count`` environments now (a broken handler fails here, loudly); they wait idle."""
        taken = [self._take() for _ in range(min(count, self.limit))]
        started: list[Environment] = []
        lock = threading.Lock()

        def start(environment: Environment | None, number: int) -> None:
            ready = environment or Environment.start(
                self.spec, number, self.log_sink, "provisioned-concurrency", self.nice
            )
            with lock:
                started.append(ready)

        try:
            # Side by side, as Lambda initialises provisioned environments.
            threads = [threading.Thread(target=start, args=pair, daemon=True) for pair in taken]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            for environment in started:
                self._give_back(environment)
            for _ in range(len(taken) - len(started)):
                self._give_back(None)

    def invoke(self, event: dict[str, Any]) -> Any:
        request_id = str(uuid.uuid4())
        environment, number = self._take()
        init_ms: float | None = None
        began = time.perf_counter()
        try:
            if environment is None:
                environment = Environment.start(self.spec, number, self.log_sink, nice=self.nice)
                init_ms = environment.init_ms
                began = time.perf_counter()
            return environment.invoke(event, request_id, float(self.spec.timeout))
        except InvocationFailed as failure:
            with self.condition:
                self.figures.errors += 1
                if failure.kind in {"Sandbox.Timedout", "Runtime.ExitError"}:
                    self.figures.timeouts += failure.kind == "Sandbox.Timedout"
                    self.figures.environments_lost += 1
                    environment = None  # killed: it does not go back to the pool
            raise
        finally:
            duration_ms = (time.perf_counter() - began) * 1000
            self._give_back(environment)
            self._record(request_id, number or (environment.number if environment else 0), duration_ms, init_ms)

    def _record(self, request_id: str, number: int, duration_ms: float, init_ms: float | None) -> None:
        with self.condition:
            self.figures.invocations += 1
            self.figures.duration_ms.append(duration_ms)
            if init_ms is not None:
                self.figures.cold_starts += 1
                self.figures.init_ms.append(init_ms)
        if self.report is not None:
            line = (
                f"REPORT RequestId: {request_id} Function: {self.spec.logical_id} Environment: {number} "
                f"Duration: {duration_ms:.2f} ms"
            )
            self.report(line + (f" Init Duration: {init_ms:.2f} ms" if init_ms is not None else ""))

    def retire_idle(self) -> int:
        """Close the environments idle for longer than ``idle_seconds``, the longest idle first, keeping ``keep``
        alive; returns how many were closed. The next invocation past them is a cold start again, as on Lambda."""
        if self.idle_seconds is None:
            return 0
        cutoff = time.monotonic() - self.idle_seconds
        with self.condition:
            alive = len(self.idle) + self.busy
            stale = [e for e in self.idle if e.idle_since < cutoff][: max(0, alive - self.keep)]
            self.idle = [e for e in self.idle if e not in stale]  # the rest keep their order: most recent last
            self.figures.retired += len(stale)
        for environment in stale:
            environment.close()
        return len(stale)

    def stop(self) -> None:
        with self.condition:
            self.closed = True
            idle, self.idle = self.idle, []
            self.condition.notify_all()
        for environment in idle:
            environment.close()
