"""moto server for the local stack, with one fix: each DynamoDB request is atomic, as in the real service.

moto's DynamoDB backend evaluates a condition and then writes without a lock, so two concurrent conditional
writes can both succeed on a threaded server. Pregen's guarantees (one job per key, one lease, one claim) rest on
conditional writes, so the local stack serialises DynamoDB requests; other services stay concurrent (SQS long
polls must not block DynamoDB).

    python -m pregen_local.moto_server --port 5005      # standalone, e.g. in its own process for benchmarks
"""

from __future__ import annotations

import argparse
import threading
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


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = AtomicDynamoDB(DomainDispatcherApplication(create_backend_app))
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
    args = parser.parse_args(argv)
    server = MotoServer(args.host, args.port)
    print(f"moto (atomic DynamoDB) at {server.endpoint}", flush=True)
    server.server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
