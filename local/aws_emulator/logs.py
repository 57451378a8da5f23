"""CloudWatch Logs subscriptions, locally: lines a function prints (an execution environment's stdout, or, for
functions run in this process, the lines the app hands to the sink installed by ``install_sink``) are matched
against the template's filter patterns and delivered to the subscribed function in batches, in the
``awslogs`` event shape, the way CloudWatch Logs invokes a function (asynchronously: two retries, then the
function's on-failure queue).

Only the JSON equality patterns the template uses (``{ $.a.b = "value" }``, joined by ``&&`` or ``||``) are
understood; a pattern outside that subset stops the stack at start rather than silently matching nothing.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_emulator.console import say
from aws_emulator.runtime import current_function

if TYPE_CHECKING:
    from aws_emulator.runtime import Invocable
    from aws_emulator.template import LogSubscription

logger = logging.getLogger(__name__)

# Where an app's in-process functions send the lines they print: called with the subscriptions' sink at start and
# with None at stop (the app's own way of redirecting its log lines, e.g. a ``set_sink`` of its logging module).
SinkInstaller = Callable[[Callable[[str], None] | None], object]

_TERM = re.compile(r'^\$((?:\.\w+)+)\s*=\s*(?:"([^"]*)"|(-?\d+(?:\.\d+)?))$')


def _term(raw: str) -> tuple[list[str], Any]:
    """``$.a.b = "value"`` (or a number), optionally in parentheses → (path, value)."""
    term = raw.strip()
    if term.startswith("(") and term.endswith(")"):
        term = term[1:-1].strip()
    match = _TERM.match(term)
    if match is None:
        raise ValueError(f"unsupported filter pattern term locally: {raw.strip()!r}")
    path = match.group(1).strip(".").split(".")
    return path, match.group(2) if match.group(2) is not None else float(match.group(3))


def _holds(document: Any, terms: list[tuple[list[str], Any]]) -> bool:
    for path, expected in terms:
        value = document
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return False
            value = value[part]
        if value != expected:
            return False
    return True


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A CloudWatch Logs JSON filter pattern (equality terms joined by ``&&`` and ``||``, ``&&`` binding first, a
    term optionally in parentheses) as a predicate on a log line."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"unsupported filter pattern locally: {pattern!r}")
    alternatives = [[_term(raw) for raw in alternative.split("&&")] for alternative in body[1:-1].split("||")]

    def matches(line: str) -> bool:
        try:
            document: Any = json.loads(line)
        except ValueError:
            return False
        return any(_holds(document, terms) for terms in alternatives)

    return matches


def awslogs_event(log_events: list[dict[str, Any]], *, log_group: str, filter_name: str) -> dict[str, Any]:
    """The event CloudWatch Logs sends a subscribed function: the batch as JSON, gzipped, in base64."""
    payload = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "local",
        "subscriptionFilters": [filter_name],
        "logEvents": log_events,
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()}}


class LogSubscriptions:
    """Takes the place of CloudWatch Logs for the template's subscription filters."""

    def __init__(
        self,
        subscriptions: list[LogSubscription],
        functions: dict[str, Invocable],
        *,
        on_failure: Callable[[str, dict[str, Any]], None] | None = None,
        interval_s: float = 1.0,
        attempts: int = 3,
        install_sink: SinkInstaller | None = None,
    ) -> None:
        self.routes = [(s, compile_pattern(s.pattern), functions[s.function]) for s in subscriptions]
        self.on_failure = on_failure
        self.interval_s = interval_s
        self.attempts = attempts
        self.install_sink = install_sink
        self.pending: dict[str, list[dict[str, Any]]] = {s.name: [] for s in subscriptions}
        self.lock = threading.Lock()
        self.sequence = 0
        self.delivered = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="log-subscriptions", daemon=True)

    def emit(self, line: str) -> None:
        """The sink of the app's log lines for functions run in this process: print the line as Lambda would log
        it, queue it for delivery under the function this thread is running."""
        say(line)
        self.collect(current_function(), line)

    def route(self, function: str, line: str) -> None:
        """A line an execution environment of ``function`` printed (its process's stdout, read by the stack)."""
        say(f"[{function}] {line}")
        self.collect(function, line)

    def collect(self, source: str | None, line: str) -> None:
        """Queue ``line`` for every subscription on ``source``'s log group whose filter pattern it matches."""
        now_ms = int(time.time() * 1000)
        with self.lock:
            for subscription, matches, _ in self.routes:
                if subscription.source == source and matches(line):
                    self.sequence += 1
                    self.pending[subscription.name].append(
                        {"id": f"{now_ms:013d}{self.sequence:020d}", "timestamp": now_ms, "message": line}
                    )

    def start(self) -> None:
        if self.install_sink is not None:
            self.install_sink(self.emit)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()  # a flush in progress finishes first, so the last one below never runs beside it
        self.flush()
        if self.install_sink is not None:
            self.install_sink(None)

    def _loop(self) -> None:
        while not self.stopping.wait(self.interval_s):
            try:
                self.flush()
            except Exception:  # e.g. the on-failure queue is unreachable: keep delivering the next batches
                logger.exception("log subscription delivery error")

    def flush(self) -> int:
        """Deliver what is pending, one batch per subscription; returns the log events delivered."""
        delivered = 0
        for subscription, _, function in self.routes:
            with self.lock:
                batch, self.pending[subscription.name] = self.pending[subscription.name], []
            if not batch:
                continue
            event = awslogs_event(batch, log_group=f"/aws/lambda/{subscription.source}", filter_name=subscription.name)
            for attempt in range(1, self.attempts + 1):
                try:
                    function.invoke(event)
                    delivered += len(batch)
                    break
                except Exception:
                    logger.exception("log subscription %s: delivery %d failed", subscription.name, attempt)
            else:
                if self.on_failure is not None:
                    self.on_failure(subscription.function, event)
        with self.lock:
            self.delivered += delivered
        return delivered
