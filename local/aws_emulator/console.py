"""The local stack's terminal: every line (a function's log line, a REPORT line, an access log line) is written
whole, in one write under one lock. ``print`` writes a line and its newline separately, so two threads printing
at once glued lines together (``...}REPORT RequestId: ...``)."""

from __future__ import annotations

import sys
import threading

_lock = threading.Lock()


def say(line: str) -> None:
    """Write ``line`` and its newline at once (a line holding newlines is written as it is, still whole)."""
    with _lock:
        sys.stdout.write(line.rstrip("\n") + "\n")


def access_line(method: str, path: str, status: int, ms: float) -> str:
    """One request as the access log shows it: ``GET /v1/content 202 41 ms``."""
    return f"{method} {path} {status} {ms:.0f} ms"
