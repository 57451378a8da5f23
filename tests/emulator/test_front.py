"""The local front writes a function's answer back as API Gateway would: here, a 304 without a body or a length."""

from __future__ import annotations

import http.client
import threading
from typing import Any

from aws_emulator.front import Front, serve
from aws_emulator.template import Route


class _Answers304:
    """A function that answers every request 304, as get-content does to a matching If-None-Match."""

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 304, "headers": {"ETag": '"v1"', "Cache-Control": "public, max-age=60"}, "body": ""}


def test_the_local_front_sends_a_304_without_a_body_or_a_length() -> None:
    front = Front([Route("GET", "/v1/content", "Get", authorized=False)], {"Get": _Answers304()})  # type: ignore[dict-item]
    server = serve(front, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        for _ in range(2):  # the same connection carries on: nothing was left unread after the first answer
            connection.request("GET", "/v1/content", headers={"If-None-Match": '"v1"'})
            response = connection.getresponse()
            assert response.status == 304
            assert response.getheader("etag") == '"v1"'
            # RFC 9110 8.6: a 304's Content-Length would have to be the 200's, so none is sent
            assert response.getheader("content-length") is None
            assert response.read() == b""
        connection.close()
    finally:
        server.shutdown()
        server.server_close()
