"""One execution environment: a process that imports one function's handler once, then handles one event at a time.

The stack (aws_emulator.environments) starts it as ``python -m aws_emulator.environment FD MODULE HANDLER NAME
TIMEOUT`` with one end of a socket pair on FD. Messages both ways are a 4-byte big-endian length and a JSON
document: first ``{"init_ms": ...}`` from here once the handler is imported (the init phase), then for each
``{"id": request_id, "event": ...}`` received, ``{"result": ...}`` or ``{"error": type, "message": ...}``. What the
handler prints goes to this process's stdout, which the stack reads as the function's log (its hit lines feed the
log subscriptions). A handler that raises leaves the environment running, as Lambda's Python runtime does.
"""

from __future__ import annotations

import importlib
import json
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any

from aws_emulator.runtime import LambdaContext

_LENGTH = struct.Struct(">I")


def send(sock: socket.socket, message: Any) -> None:
    data = json.dumps(message, default=str).encode()
    sock.sendall(_LENGTH.pack(len(data)) + data)


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> Any:
    """The next message, or None when the other end has closed (or the process on it died)."""
    header = _exactly(sock, _LENGTH.size)
    if header is None:
        return None
    body = _exactly(sock, _LENGTH.unpack(header)[0])
    return None if body is None else json.loads(body)


def main(argv: list[str]) -> int:
    # Ctrl-C in the terminal reaches every process of its group: the stack stops this one by closing its socket,
    # so the interrupt is not this process's (it would print a KeyboardInterrupt traceback per environment).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd, module_name, handler_name, function_name, timeout = argv
    sock = socket.socket(fileno=int(fd))
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), handler_name)
    send(sock, {"init_ms": (time.perf_counter() - started) * 1000})
    while (request := receive(sock)) is not None:
        context = LambdaContext(function_name=function_name, timeout_s=int(timeout), aws_request_id=request["id"])
        try:
            result = handler(request["event"], context)
        except Exception as exc:
            traceback.print_exc()  # to stderr: the function's log, as Lambda logs an unhandled error
            sys.stderr.flush()
            send(sock, {"error": type(exc).__name__, "message": str(exc)})
        else:
            sys.stdout.flush()  # the invocation's log lines leave before its answer, as on Lambda
            send(sock, {"result": result})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
