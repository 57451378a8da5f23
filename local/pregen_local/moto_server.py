"""moto server for the local stack, with two fixes.

1. Each DynamoDB request is atomic, as in the real service. moto's DynamoDB backend evaluates a condition and then
   writes without a lock, so two concurrent conditional writes can both succeed on a threaded server. Pregen's
   guarantees (one job per key, one lease, one claim) rest on conditional writes, so the local stack serialises
   DynamoDB requests; other services stay concurrent (SQS long polls must not block DynamoDB).
2. A transaction backs each table up once. moto deep-copies a table for every item of a transaction that names
   it, so the usage aggregator's transaction of 99 hits copied the content table 99 times, behind the lock above:
   the local stack served a third of its usual requests per second while hits were being counted.

    python -m pregen_local.moto_server --port 5005      # standalone, e.g. in its own process for benchmarks
"""

from __future__ import annotations

import argparse
import copy
import threading
import time
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


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


class _CopyOncePerTransaction:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: during a transaction, a table is
    deep-copied once however many of its items the transaction names (moto takes every backup before it applies
    any item, so one copy per table is the same backup)."""

    def __init__(self) -> None:
        self.backups = threading.local()

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        tables = getattr(self.backups, "tables", None)
        if tables is None or not isinstance(value, Table):
            return copy.deepcopy(value, memo)
        if id(value) not in tables:
            tables[id(value)] = copy.deepcopy(value, memo)
        return tables[id(value)]

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def back_up_each_table_once() -> None:
    """Install fix 2 (idempotent)."""
    from moto.dynamodb import models

    if isinstance(models.copy, _CopyOncePerTransaction):  # type: ignore[attr-defined]
        return
    shim = _CopyOncePerTransaction()
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        shim.backups.tables = {}
        try:
            original(self, transact_items)
        finally:
            shim.backups.tables = None

    models.copy = shim  # type: ignore[attr-defined,assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class MotoServer:
    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, atomic_dynamodb: bool = True, delay_s: float = 0.0
    ) -> None:
        back_up_each_table_once()
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
