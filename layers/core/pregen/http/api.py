"""The HTTP edge shared by the API functions: the resolver, the caller's identity, and the one place where
domain errors become HTTP status codes with a JSON error body."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from pregen.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound, RateLimited
from pregen.domain.models import Caller, Role
from pregen.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

_ROLE_RANK = {Role.STUDENT: 0, Role.TEACHER: 1, Role.ADMIN: 2}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[Any] | None = None


def error_response(
    status: HTTPStatus, code: str, message: str, details: list[Any] | None = None, headers: dict[str, str] | None = None
) -> Response[str]:
    body = {"error": ErrorBody(code=code, message=message, details=details).model_dump(exclude_none=True)}
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers=headers,
    )


def json_response(status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":"), default=str),
        headers=headers,
    )


def _roles_in(value: Any) -> list[str]:
    """HTTP API hands every claim over as a string; arrays arrive as ``"[a b]"``."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part for part in text.replace(",", " ").split() if part]


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The caller as the JWT authorizer verified them. The highest known role wins; unknown roles count as none."""
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise UnauthorizedError("the token has no subject")
    names = (
        _roles_in(claims.get("role")) + _roles_in(claims.get("custom:role")) + _roles_in(claims.get("cognito:groups"))
    )
    roles = [Role(n) for n in names if n in Role._value2member_map_]
    role = max(roles, key=_ROLE_RANK.__getitem__, default=Role.STUDENT)
    return Caller(sub=sub, role=role)


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    return caller_from_claims(app.current_event.request_context.authorizer.jwt_claim)


def require_role(caller: Caller, role: Role) -> None:
    if _ROLE_RANK[caller.role] < _ROLE_RANK[role]:
        raise Forbidden(f"this needs the {role.value} role")


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        details.append({"location": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    return details


# The error table: each domain error's status and code. The message is the error's own text.
ERRORS: dict[type[Exception], tuple[HTTPStatus, str]] = {
    InvalidRequest: (HTTPStatus.BAD_REQUEST, "invalid_request"),
    Forbidden: (HTTPStatus.FORBIDDEN, "forbidden"),
    NotFound: (HTTPStatus.NOT_FOUND, "not_found"),
    Conflict: (HTTPStatus.CONFLICT, "conflict"),
}


def _rate_limited(exc: RateLimited) -> Response[str]:
    details = [
        {
            "limit": exc.limit,
            "allowed": exc.allowed,
            "window_seconds": exc.window_seconds,
            "retry_after_seconds": exc.retry_after,
            "action": exc.action,
        }
    ]
    return error_response(
        HTTPStatus.TOO_MANY_REQUESTS, "rate_limited", str(exc), details, {"Retry-After": str(exc.retry_after)}
    )


def _invalid(exc: RequestValidationError | ValidationError) -> Response[str]:
    return error_response(
        HTTPStatus.BAD_REQUEST, "invalid_request", "the request is not valid", _validation_details(exc.errors())
    )


def _unexpected(exc: Exception) -> Response[str]:
    logger.exception("unhandled error")
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "something went wrong on our side")


# Errors whose answer needs more than the table: their details, headers or a fixed message.
_HANDLERS: dict[type[Exception], Callable[[Any], Response[str]]] = {
    RequestValidationError: _invalid,
    ValidationError: _invalid,
    UnauthorizedError: lambda exc: error_response(HTTPStatus.UNAUTHORIZED, "unauthorized", str(exc.msg)),
    RateLimited: _rate_limited,
    json.JSONDecodeError: lambda _: error_response(
        HTTPStatus.BAD_REQUEST, "invalid_json", "the body is not valid JSON"
    ),
    Exception: _unexpected,
}


def _from_table(status: HTTPStatus, code: str) -> Callable[[Exception], Response[str]]:
    return lambda exc: error_response(status, code, str(exc))


def build_resolver() -> APIGatewayHttpResolver:
    """A resolver with request validation (and so an OpenAPI document) and the error table's mapping."""
    app = APIGatewayHttpResolver(enable_validation=True)
    for error, (status, code) in ERRORS.items():
        app.exception_handler(error)(_from_table(status, code))
    for error, handler in _HANDLERS.items():
        app.exception_handler(error)(handler)
    app.not_found(lambda _: error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route"))
    return app
