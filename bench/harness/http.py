"""The one HTTP client of the benchmarks: a JSON request with a bearer token, its status, headers and body; an
error status is an answer, not an exception (a benchmark counts 4xx and 5xx)."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit


def request(
    method: str, url: str, token: str | None = None, body: Any = None, *, timeout: float = 60
) -> tuple[int, dict[str, str], Any]:
    """(status, headers with lower-case names, the JSON body or None when there is none or it is not JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if data is not None:
        headers["content-type"] = "application/json"
    sent = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            status, answer, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer, raw = error.code, error.headers, error.read()
    try:
        parsed = json.loads(raw or b"null")
    except ValueError:
        parsed = None
    return status, {k.lower(): v for k, v in answer.items()}, parsed


def get(url: str, token: str | None = None, *, timeout: float = 60) -> tuple[int, Any]:
    """A GET: (status, the JSON body)."""
    status, _, body = request("GET", url, token, timeout=timeout)
    return status, body


def post(url: str, token: str | None, body: Any, *, timeout: float = 60) -> tuple[int, Any]:
    """A POST of ``body`` as JSON: (status, the JSON body)."""
    status, _, answer = request("POST", url, token, body, timeout=timeout)
    return status, answer


def connection(url: str, timeout: float = 30) -> http.client.HTTPConnection:
    """A keep-alive connection to ``url``'s host (the load generators send many requests on one)."""
    parts = urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)


class KeepAlive:
    """One keep-alive connection that a load generator sends many requests on; after a failed request it opens a
    new one (and says what failed)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn = connection(url)

    def send(self, method: str, path: str, headers: dict[str, str], body: str | None = None) -> int | str:
        """The answer's status, or the name of the exception the request failed with."""
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = connection(self.url)
            return type(exc).__name__
        return response.status

    def close(self) -> None:
        self.conn.close()
