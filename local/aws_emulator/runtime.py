"""A minimal Lambda runtime in this process: imports a function's handler and invokes it with an event and a
context. The stack runs functions in execution environments of their own (aws_emulator.environments); this
in-process runtime is what tests use, and the stack's fallback (``--runtime inprocess``)."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_emulator.template import FunctionSpec


@dataclass
class LambdaContext:
    function_name: str
    timeout_s: int
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self.started)) * 1000))


class Invocable(Protocol):
    """A function the stack's event sources invoke: in this process, or in a pool of execution environments."""

    spec: FunctionSpec

    def invoke(self, event: dict[str, Any]) -> Any: ...


_invoking = threading.local()


def current_function() -> str | None:
    """The logical id of the function this thread is running (what Lambda's log group would be named after)."""
    return getattr(_invoking, "function", None)


class LocalFunction:
    def __init__(self, spec: FunctionSpec, turn: threading.RLock | None = None) -> None:
        self.spec = spec
        # Powertools' resolvers keep the event being handled on a class attribute (BaseRouter.current_event)
        # shared by every resolver in a process: API functions run in one process take turns on ``turn``.
        self.turn = turn
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None

    @property
    def handler(self) -> Callable[[dict[str, Any], Any], Any]:
        if self._handler is None:
            module = importlib.import_module(self.spec.module)
            self._handler = getattr(module, self.spec.handler)
        return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        context = LambdaContext(function_name=self.spec.logical_id, timeout_s=self.spec.timeout)
        outer, _invoking.function = current_function(), self.spec.logical_id
        try:
            if self.turn is None:
                return self.handler(event, context)
            with self.turn:
                return self.handler(event, context)
        finally:
            _invoking.function = outer
