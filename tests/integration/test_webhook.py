"""The webhook function: each event POSTed to the app's URL, signed; a refusal fails the invocation (Lambda retries)."""

from __future__ import annotations

import http.server
import json
import threading
from typing import Any

import pytest

from aws_emulator.runtime import LambdaContext
from pregen.config.base import forget
from pregen.domain import webhooks
from pregen.wiring.cache import reset


class _Receiver(http.server.BaseHTTPRequestHandler):
    status = 204
    got: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.got.append((dict(self.headers), body))
        self.send_response(_Receiver.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Any:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.got, _Receiver.status = [], 204
    monkeypatch.setenv("WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hooks/pregen")
    monkeypatch.setenv("WEBHOOK_KEY", "app-secret")
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    reset()
    yield _Receiver
    server.shutdown()
    reset()
    forget()


CONTEXT = LambdaContext(function_name="WebhookFunction", timeout_s=15)
EVENT = {"id": "ev-1", "detail-type": "Job Done", "source": "pregen", "time": "2027-01-01T00:00:00Z",
         "detail": {"event_id": "job#j1#done", "job_id": "j1", "status": "done"}}  # fmt: skip


def test_the_webhook_posts_each_event_signed(receiver: Any) -> None:
    from functions.webhook import app

    assert app.lambda_handler(EVENT, CONTEXT) == {"status": 204}
    ((headers, body),) = receiver.got
    assert json.loads(body) == {"id": "ev-1", "type": "Job Done", "time": "2027-01-01T00:00:00Z",
                                "detail": EVENT["detail"]}  # fmt: skip
    stamp = int(headers[webhooks.HEADER].split(",")[0].removeprefix("t="))
    assert webhooks.verify("app-secret", headers[webhooks.HEADER], body, now=stamp)


def test_a_refused_post_fails_the_invocation_so_lambda_retries_it(receiver: Any) -> None:
    from functions.webhook import app

    receiver.status = 500
    with pytest.raises(app.WebhookRefused, match="500"):
        app.lambda_handler(EVENT, CONTEXT)
