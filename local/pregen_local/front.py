"""The local HTTP front: turns HTTP requests into API Gateway HTTP API (payload 2.0) events for the routes
declared in template.yaml, after verifying the dev JWT the way the JWT authorizer does."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from pregen_local import devjwt

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen_local.runtime import LocalFunction
    from pregen_local.template import Route

_TEXT_TYPES = ("application/json", "text/", "application/x-www-form-urlencoded", "application/xml")


def build_event(
    *,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    route: Route,
    path_parameters: dict[str, str],
    claims: dict[str, str] | None,
    source_ip: str,
) -> dict[str, Any]:
    content_type = headers.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    params: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name, []).append(value)
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if claims is not None:  # a route without the authorizer has no authorizer context, as on API Gateway
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if params:
        # HTTP API joins repeated query parameters with commas.
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if body:
        event["body"] = body.decode("utf-8", errors="replace") if is_text else base64.b64encode(body).decode()
    return event


# Powertools' resolvers keep the event being handled on a class attribute (BaseRouter.current_event) shared by
# every resolver in the process. On Lambda an instance handles one event at a time, so that is safe; here every
# function runs in one process, so API invocations take turns, or a concurrent request could act on another's event.
_API_TURN = threading.RLock()


class Front:
    """Routes by template.yaml, authorizes, invokes the function in-process, writes its response back."""

    def __init__(
        self,
        routes: list[Route],
        functions: dict[str, LocalFunction],
        extra_pages: dict[str, Callable[[], tuple[int, str, bytes]]] | None = None,
    ) -> None:
        self.routes = routes
        self.functions = functions
        self.extra_pages = extra_pages or {}

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        if method == "GET" and parts.path in self.extra_pages:
            status, content_type, page = self.extra_pages[parts.path]()
            return status, {"content-type": content_type}, page
        matched = self.match(method, parts.path)
        if matched is None:
            return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}'
        route, path_parameters = matched
        claims: dict[str, str] | None = None
        if route.authorized:  # as the JWT authorizer; a route without it checks the caller itself
            try:
                claims = devjwt.as_authorizer_claims(devjwt.verify(headers.get("authorization")))
            except devjwt.TokenRejected:
                return (
                    401,
                    {"content-type": "application/json", "www-authenticate": "Bearer"},
                    b'{"message":"Unauthorized"}',
                )
        event = build_event(
            method=method,
            raw_path=parts.path,
            query=parts.query,
            headers=headers,
            body=body,
            route=route,
            path_parameters=path_parameters,
            claims=claims,
            source_ip=source_ip,
        )
        try:
            with _API_TURN:
                result = self.functions[route.function].invoke(event)
        except Exception:  # the function crashed: API Gateway answers 500 with this body
            return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
        return _response(result)


def _response(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0: a bare value is taken as a 200 JSON body.
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers[str(name).lower()] = ", ".join(str(v) for v in values)
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


def serve(front: Front, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds ~40 ms to each.
        disable_nagle_algorithm = True

        def _any(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, out_headers, payload = front.handle(self.command, self.path, headers, body, self.client_address[0])
            self.send_response(status)
            for name, value in out_headers.items():
                if name not in {"content-length", "connection"}:
                    self.send_header(name, value)
            if status not in {204, 304}:  # neither has a body, and a 304's length would be the 200's (RFC 9110 8.6)
                self.send_header("content-length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and status not in {204, 304}:  # HEAD: the headers of the body it leaves out
                self.wfile.write(payload)

        def __getattr__(self, name: str) -> Any:
            # Every method reaches the router, as on API Gateway: a method no route declares (TRACE, OPTIONS,
            # HEAD, ...) is answered 404 {"message":"Not Found"} by Front.handle, not http.server's 501 HTML page.
            if name.startswith("do_"):
                return self._any
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a burst of clients (a benchmark's 100 learners at one barrier) had
    # connections reset by the kernel before the front saw them. API Gateway queues them; so does this.
    request_queue_size = 1024
