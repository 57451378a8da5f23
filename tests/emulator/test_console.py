"""The local stack is pleasant to debug (issue 31, item 8): an access log line per request, one log line per line
when threads print at once, a quiet stop on Ctrl-C (in the stack and in its execution environments)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from aws_emulator import console
from aws_emulator.environments import FunctionPool
from aws_emulator.front import Front, serve
from aws_emulator.stack import serve_until_stopped
from aws_emulator.template import FunctionSpec, Route

if TYPE_CHECKING:
    from collections.abc import Iterator


class _Answers:
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        status = 202 if event["rawPath"] == "/v1/content" else 404
        return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": "{}"}


def test_every_request_gets_an_access_log_line_without_its_query() -> None:
    lines: list[str] = []
    routes = [Route("GET", "/v1/content", "Get", authorized=False), Route("POST", "/v1/other", "Get", authorized=False)]
    front = Front(routes, {"Get": _Answers()})  # type: ignore[dict-item]
    server = serve(front, "127.0.0.1", 0, access_log=lines.append)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        for method, target in (("GET", "/v1/content?topic=my+secret"), ("POST", "/v1/other"), ("GET", "/nowhere")):
            connection.request(method, target)
            connection.getresponse().read()
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
    assert [re.sub(r" \d+ ms$", " N ms", line) for line in lines] == [
        "GET /v1/content 202 N ms",
        "POST /v1/other 404 N ms",
        "GET /nowhere 404 N ms",
    ]
    assert all("secret" not in line for line in lines)


class _SlowTerminal:
    """A stdout that lets other threads run inside each write, as a busy terminal or pipe does."""

    def __init__(self) -> None:
        self.written: list[str] = []

    def write(self, text: str) -> int:
        time.sleep(0.0005)
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        return


def test_lines_printed_by_many_threads_at_once_stay_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _SlowTerminal()
    monkeypatch.setattr("sys.stdout", terminal)
    # A function's JSON log line and a REPORT line, written by different threads at the same moment
    record = json.dumps({"usage": "miss", "key": "v1-lesson-" + "a" * 200})
    report = "REPORT RequestId: 1 Function: Fn Environment: 1 Duration: 1.00 ms"

    def write(line: str) -> None:
        for _ in range(50):
            console.say(line)

    threads = [threading.Thread(target=write, args=(line,)) for line in (record, report) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out = "".join(terminal.written).splitlines()
    assert len(out) == 8 * 50
    assert set(out) == {record, report}  # never "...}REPORT RequestId" on one line


def test_an_execution_environment_ignores_ctrl_c_and_goes_on_serving() -> None:
    # Ctrl-C in a terminal reaches every process of the group: the stack stops its environments itself
    lines: list[str] = []
    spec = FunctionSpec(logical_id="Fn", module="tests.emulator.handlers", handler="echo", timeout=10, environment={})
    pool = FunctionPool(spec, 1, log_sink=lambda _function, line: lines.append(line))
    try:
        pid = pool.invoke({})["pid"]
        os.kill(pid, signal.SIGINT)
        time.sleep(0.5)
        assert pool.invoke({"again": True})["pid"] == pid  # the same environment, still alive
    finally:
        pool.stop()
    assert not [line for line in lines if "Traceback" in line or "KeyboardInterrupt" in line]


class _FakeStack:
    """What ``serve_until_stopped`` needs of a stack: start, stop and its stopped event."""

    def __init__(self, *, interrupted_at_start: bool = False) -> None:
        self.stopped = threading.Event()
        self.stops = 0
        self.interrupted_at_start = interrupted_at_start

    def start(self) -> dict[str, Any]:
        if self.interrupted_at_start:
            raise KeyboardInterrupt
        return {"url": "http://127.0.0.1:1"}

    def stop(self) -> None:
        self.stops += 1
        time.sleep(0.2)  # a second Ctrl-C arrives while stopping
        self.stopped.set()


@pytest.fixture
def restored_signals() -> Iterator[None]:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)


@pytest.mark.usefixtures("restored_signals")
def test_ctrl_c_stops_the_stack_once_and_quietly(capsys: pytest.CaptureFixture[str]) -> None:
    stack = _FakeStack()

    def interrupt_twice() -> None:
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_twice, daemon=True).start()
    assert serve_until_stopped(stack) == 0  # type: ignore[arg-type]
    assert stack.stops == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-2:] == ["Stopping the local stack...", "Stopped."]
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.usefixtures("restored_signals")
def test_ctrl_c_while_starting_stops_what_had_started_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    stack = _FakeStack(interrupted_at_start=True)
    assert serve_until_stopped(stack) == 130  # type: ignore[arg-type]
    assert stack.stops == 1
    captured = capsys.readouterr()
    assert "Interrupted while starting" in captured.out
    assert "Traceback" not in captured.out + captured.err
