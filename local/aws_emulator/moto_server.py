"""moto server for the local stack, with three fixes.

1. Each DynamoDB request is atomic, as in the real service. moto's DynamoDB backend evaluates a condition and then
   writes without a lock, so two concurrent conditional writes can both succeed on a threaded server. Pregen's
   guarantees (one job per key, one lease, one claim) rest on conditional writes, so the local stack serialises
   DynamoDB requests; other services stay concurrent (SQS long polls must not block DynamoDB).
2. A transaction backs up the items it touches, not its tables. moto deep-copies every table a transaction names
   (once per item naming it), behind the lock above: the usage aggregator's transaction of 99 hits copied the
   content table 99 times, and under fuzzing, as the tables grew, each transaction copied thousands of items (the
   stack passed 14 GB and answered in tens of seconds). The conditions are now checked first, so a cancelled
   transaction writes nothing, and only the touched items are restored if applying fails.
3. SQS's per-message checks read the clock without building datetimes. moto walks every message of a queue on each
   receive, delete and depth count, and each message's ``visible`` and ``delayed`` built two datetimes to read the
   time, and each delete built a list per message: with 3,000 jobs queued the moto process spent a core on it, and
   the local stack's ``POST /v1/pregenerate`` calls waited behind it (median 2.9 s, slowest 11.7 s). The walk is
   still moto's; each step is now a comparison (`bench.moto_sqs`: 0.092x the time per receive-and-delete cycle).

    python -m aws_emulator.moto_server --port 5005      # standalone, e.g. in its own process for benchmarks
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import threading
import time
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator


class AtomicDynamoDB:
    """WSGI middleware: DynamoDB requests (``X-Amz-Target: DynamoDB_...``) run one at a time."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        with self.lock:
            # Drain the response inside the lock: the write happens while the body is produced.
            return list(self.app(environ, start_response))


class NetworkDelay:
    """WSGI middleware for benchmarks: every request waits ``seconds`` first, as a round trip to a real service
    would (the wait releases the GIL, so concurrent requests overlap their waits as they overlap network time)."""

    def __init__(self, app: Any, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        time.sleep(self.seconds)
        return self.app(environ, start_response)  # type: ignore[no-any-return]


class _NoTableCopies:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models`` while a transaction known to be clean runs:
    moto's whole-table backup becomes the table itself (no copy), so a transaction costs what its items cost."""

    def __init__(self) -> None:
        self.active = threading.local()

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(self.active, "on", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key(backend: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]  # type: ignore[no-any-return]
    table = backend.get_table(op["TableName"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def _conditions(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]] | None:
    """Every item's condition on the state before the transaction (requests run one at a time: AtomicDynamoDB):
    the reasons, as moto reports them, when one fails; None when all hold. Raises when the request is not a
    clean one (an unknown table, a malformed item, an item named twice): moto's own path then handles it."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import ConditionalCheckFailed

    reasons: list[tuple[Any, Any, Any]] = []
    seen: set[str] = set()
    for item in transact_items:
        ((op_type, op),) = item.items()
        key = _key(backend, op_type, op)
        name = f"{op['TableName']}|{sorted(key.items())}"
        if name in seen:
            raise ValueError("an item named twice")
        seen.add(name)
        condition = op.get("ConditionExpression")
        current = backend.get_item(op["TableName"], key)
        if condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            reasons.append((None, None, None))
            continue
        old = current.to_json()["Attributes"] if current and op.get("ReturnValuesOnConditionCheckFailure") else None
        reasons.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
    return reasons if any(code for code, _, _ in reasons) else None


def transactions_copy_items_not_tables() -> None:
    """Install fix 2 (idempotent). moto backs up every table a transaction names, whole, before it applies any
    item, and restores the tables when an item fails. Here the conditions are evaluated first, on the state before
    the transaction: a failed one cancels it before anything is written; otherwise only the items it touches are
    backed up and put back if applying fails. A request that is not clean takes moto's own path."""
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import TransactionCanceledException

    if isinstance(models.copy, _NoTableCopies):  # type: ignore[attr-defined]
        return
    shim = _NoTableCopies()
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            reasons = _conditions(self, transact_items) if len(transact_items) <= 100 else None
            touched = [(item, _key(self, *next(iter(item.items())))) for item in transact_items]
        except Exception:  # not a clean request: moto's own path reports it as moto does
            original(self, transact_items)
            return
        if reasons is not None:
            raise TransactionCanceledException(reasons)
        backups = []
        for item, key in touched:
            table = next(iter(item.values()))["TableName"]
            current = self.get_item(table, key)
            backups.append((table, key, current.to_json()["Attributes"] if current else None))
        shim.active.on = True
        try:
            original(self, transact_items)
        except Exception:
            for table, key, attributes in reversed(backups):
                if attributes is None:
                    self.delete_item(table, key)
                else:
                    self.put_item(table, attributes)
            raise
        finally:
            shim.active.on = False

    models.copy = shim  # type: ignore[attr-defined,assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def sqs_checks_without_datetimes() -> None:
    """Install fix 3 (idempotent): ``Message.visible``, ``Message.delayed`` and ``Message.had_receipt_handle``
    answer as moto's do, from ``time.time()`` (what moto's ``unix_time_millis`` computes through datetimes)."""
    from moto.sqs import models

    message = models.Message
    if getattr(message, "_emulator_fast_checks", False):
        return

    def visible(self: Any) -> bool:
        return time.time() * 1000.0 > self.visible_at  # type: ignore[no-any-return]

    def delayed(self: Any) -> bool:
        return time.time() * 1000.0 < self.delayed_until  # type: ignore[no-any-return]

    def had_receipt_handle(self: Any, receipt_handle: str) -> bool:
        return receipt_handle == self.receipt_handle or receipt_handle in self._old_receipt_handles

    message.visible = property(visible)  # type: ignore[method-assign,assignment]
    message.delayed = property(delayed)  # type: ignore[method-assign,assignment]
    message.had_receipt_handle = had_receipt_handle  # type: ignore[method-assign]
    message._emulator_fast_checks = True  # type: ignore[attr-defined]


@contextlib.contextmanager
def fixes_in_process() -> Iterator[None]:
    """Fixes 2 and 3 for an in-process moto (``mock_aws``) while the block runs, moto's own code back afterwards:
    for benchmarks that run the stack in their own process as the local stack's server does."""
    from moto.dynamodb import models as dynamodb
    from moto.sqs import models as sqs

    checks = ("visible", "delayed", "had_receipt_handle", "_emulator_fast_checks")
    saved_dynamodb = dynamodb.copy, dynamodb.DynamoDBBackend.transact_write_items  # type: ignore[attr-defined]
    saved_sqs = {name: sqs.Message.__dict__[name] for name in checks if name in sqs.Message.__dict__}
    transactions_copy_items_not_tables()
    sqs_checks_without_datetimes()
    try:
        yield
    finally:
        dynamodb.copy, dynamodb.DynamoDBBackend.transact_write_items = saved_dynamodb  # type: ignore[attr-defined,method-assign]
        for name in checks:
            if name in saved_sqs:
                setattr(sqs.Message, name, saved_sqs[name])
            elif name in sqs.Message.__dict__:
                delattr(sqs.Message, name)


class MotoServer:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, atomic_dynamodb: bool = True, delay_s: float = 0.0
    ) -> None:
        transactions_copy_items_not_tables()
        sqs_checks_without_datetimes()
        moto_app = DomainDispatcherApplication(create_backend_app)
        app: Any = AtomicDynamoDB(moto_app) if atomic_dynamodb else moto_app
        if delay_s:
            app = NetworkDelay(app, delay_s)
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> MotoServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument(
        "--concurrent-dynamodb",
        action="store_true",
        help="serve DynamoDB requests concurrently, as moto does (benchmarks whose requests never race: real "
        "DynamoDB serves a hit's parallel read and write at once, the lock would serialise them)",
    )
    parser.add_argument("--delay-ms", type=float, default=0.0, help="benchmarks: a simulated network round trip")
    args = parser.parse_args(argv)
    server = MotoServer(
        args.host, args.port, atomic_dynamodb=not args.concurrent_dynamodb, delay_s=args.delay_ms / 1000
    )
    print(f"moto (atomic DynamoDB) at {server.endpoint}", flush=True)
    server.server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
