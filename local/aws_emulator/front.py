"""The local HTTP front: turns HTTP requests into API Gateway HTTP API (payload 2.0) events for the routes
declared in template.yaml, after verifying the dev JWT the way the JWT authorizer does."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from waitress.server import create_server

from aws_emulator import devjwt
from aws_emulator.console import access_line

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from aws_emulator.runtime import Invocable
    from aws_emulator.template import Route

    # A page of the front besides the routes: () -> (status, content type, body).
    Page = Callable[[], tuple[int, str, bytes]]

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


class Front:
    """Routes by template.yaml, authorizes, invokes the function in-process, writes its response back."""

    def __init__(
        self,
        routes: list[Route],
        functions: dict[str, Invocable],
        extra_pages: dict[str, Page] | None = None,
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
            result = self.functions[route.function].invoke(event)
        except Exception as exc:  # the function failed: API Gateway answers 500 (503 when it timed out)
            if getattr(exc, "kind", "") == "Sandbox.Timedout":
                return 503, {"content-type": "application/json"}, b'{"message":"Service Unavailable"}'
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


class HttpFront:
    """The front on waitress: a thread pool behind one event loop that keeps connections alive, with a listen
    backlog and connection limit in the thousands (http.server listened with a backlog of 5)."""

    def __init__(
        self,
        front: Front,
        host: str,
        port: int,
        *,
        threads: int = 64,
        access_log: Callable[[str], None] | None = None,
    ) -> None:
        self.front = front
        self.access_log = access_log  # a line per request (``console.access_line``), or none
        self.closing = False
        self.server: Any = create_server(
            self.wsgi,
            host=host,
            port=port,
            threads=threads,
            backlog=2048,
            connection_limit=2000,
            channel_timeout=120,
            ident="",  # no Server header: API Gateway sends none of waitress's
            clear_untrusted_proxy_headers=False,  # the function sees every header, as behind API Gateway
        )

    @property
    def server_address(self) -> tuple[str, int]:
        return str(self.server.effective_host), int(self.server.effective_port)

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"])
        target = str(environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/"))
        if environ.get("QUERY_STRING") and "?" not in target:
            target += "?" + str(environ["QUERY_STRING"])
        headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = str(environ[name])
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        began = time.perf_counter()
        status, out_headers, payload = self.front.handle(
            method, target, headers, body, str(environ.get("REMOTE_ADDR", "127.0.0.1"))
        )
        if self.access_log is not None:  # the path only: a query may carry what a learner typed
            path = urlsplit(target).path
            self.access_log(access_line(method, path, status, (time.perf_counter() - began) * 1000))
        response_headers = [(k, v) for k, v in out_headers.items() if k not in {"content-length", "connection"}]
        if status in {204, 304}:  # neither has a body, and a 304's length would be the 200's (RFC 9110 8.6)
            payload = b""
        else:
            response_headers.append(("content-length", str(len(payload))))
        start_response(f"{status} {_REASONS.get(status, 'Status')}", response_headers)
        return [b""] if method == "HEAD" else [payload]

    def serve_forever(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # the loop's sockets closed under it by shutdown()
            if not self.closing:
                raise

    def shutdown(self) -> None:
        self.closing = True
        # Requests in flight finish first (as waitress itself stops on Ctrl-C): closed the other way round, a task
        # ending after the close pulls the loop's closed trigger (EBADF, a traceback on every busy stop).
        self.server.task_dispatcher.shutdown(timeout=5)
        self.server.close()

    def server_close(self) -> None:
        return


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def serve(front: Front, host: str, port: int, *, access_log: Callable[[str], None] | None = None) -> HttpFront:
    return HttpFront(front, host, port, access_log=access_log)
