"""The HTTP edge shared by the API functions: the resolver, the caller's identity, and the one place where
domain errors become HTTP status codes with a JSON error body."""

from __future__ import annotations

import difflib
import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import UnauthorizedError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from pydantic import BaseModel, ValidationError

from pregen.domain.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    OverAllowance,
    RateLimited,
    SpendCeilingReached,
    TooManyVotes,
)
from pregen.domain.models import Caller, Role
from pregen.observability import logger
from pregen.services.limits import forget_charge, last_charge

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
    from aws_lambda_powertools.utilities.typing import LambdaContext

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


def answer(
    description: str, model: Any = None, headers: dict[str, OpenAPIResponseHeader] | None = None
) -> OpenAPIResponse:
    """A route's documented answer: its body is ``model`` (a presenter's TypedDict), or any JSON object; with
    the headers it sends, when the document should say them."""
    body: Any = {"model": model} if model is not None else {"schema": {"type": "object"}}
    documented: OpenAPIResponse = {"description": description, "content": {"application/json": body}}
    if headers:
        documented["headers"] = headers
    return documented


def json_response(status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status.value,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":"), default=str),
        headers=headers,
    )


def _roles_in(value: Any) -> list[str]:
    """A list claim's values: decoded claims keep their list; HTTP API hands arrays over as ``"[a b]"`` (its
    values have no spaces: Cognito group names are single words here). Any other string is ONE role name, never
    split: ``"student,admin"`` is no role at all."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1].split()
    return [text] if text else []


def caller_from_claims(claims: Mapping[str, Any], role_claim: str) -> Caller:
    """The caller as the JWT authorizer verified them. Roles come from ``role_claim`` only (a claim the identity
    provider sets and the user cannot write); the highest known role wins, unknown values count as none."""
    sub = str(claims.get("sub") or "").strip()
    if not sub:
        raise UnauthorizedError("the token has no subject")
    roles = [Role(n) for n in _roles_in(claims.get(role_claim)) if n in Role._value2member_map_]
    role = max(roles, key=_ROLE_RANK.__getitem__, default=Role.STUDENT)
    return Caller(sub=sub, role=role)


def current_caller(app: Resolver) -> Caller:
    return caller_from_claims(app.current_event.request_context.authorizer.jwt_claim, app.role_claim())


def caller_groups(app: Resolver) -> list[str]:
    """Every value of the caller's role claim (roles, and groups such as ``class:<id>`` for course sharing)."""
    return _roles_in(app.current_event.request_context.authorizer.jwt_claim.get(app.role_claim()))


def require_role(caller: Caller, role: Role) -> None:
    if _ROLE_RANK[caller.role] < _ROLE_RANK[role]:
        raise Forbidden(f"this needs the {role.value} role")


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    details = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        details.append({"location": ".".join(loc), "message": str(err.get("msg", "invalid"))})
    return details


_UNSUPPORTED = "the body must be JSON (Content-Type: application/json)"

# The error table: each domain error's status and code. The message is the error's own text.
ERRORS: dict[type[Exception], tuple[HTTPStatus, str]] = {
    InvalidRequest: (HTTPStatus.BAD_REQUEST, "invalid_request"),
    Forbidden: (HTTPStatus.FORBIDDEN, "forbidden"),
    NotFound: (HTTPStatus.NOT_FOUND, "not_found"),
    Conflict: (HTTPStatus.CONFLICT, "conflict"),
}


# The answers' spend headers (IETF draft "RateLimit header fields for HTTP"): quota units are microdollars of
# estimated model spend (US$ 1 = 1,000,000), for the caller's tightest window.
SPEND_UNIT = "microdollars"


def rate_limit_headers(limit: int, remaining: int, reset_s: int, window_s: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset_s),
        "RateLimit-Policy": f'{limit};w={window_s};comment="{SPEND_UNIT}"',
    }


def _rate_limited(exc: RateLimited) -> Response[str]:
    details = [
        {
            "limit": exc.limit,
            "allowed": exc.allowed,
            "remaining": exc.remaining,
            "cost": exc.cost,
            "unit": SPEND_UNIT,
            "window_seconds": exc.window_seconds,
            "retry_after_seconds": exc.retry_after,
            "action": exc.action,
        }
    ]
    headers = {"Retry-After": str(exc.retry_after)}
    headers.update(rate_limit_headers(exc.allowed, exc.remaining, exc.retry_after, exc.window_seconds))
    return error_response(HTTPStatus.TOO_MANY_REQUESTS, "rate_limited", str(exc), details, headers)


def _too_many_votes(exc: TooManyVotes) -> Response[str]:
    details = [{"limit": "votes.minute", "allowed": exc.per_minute, "retry_after_seconds": exc.retry_after}]
    headers = {"Retry-After": str(exc.retry_after)}
    return error_response(HTTPStatus.TOO_MANY_REQUESTS, "too_many_votes", str(exc), details, headers)


def _over_allowance(exc: OverAllowance) -> Response[str]:
    details = [
        {
            "limit": exc.limit,
            "allowed": exc.allowed,
            "cost": exc.cost,
            "unit": SPEND_UNIT,
            "window_seconds": exc.window_seconds,
            "action": exc.action,
        }
    ]
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "over_allowance", str(exc), details)


def _ceiling(exc: SpendCeilingReached) -> Response[str]:
    details = [
        {"ceiling_usd": exc.ceiling_usd, "spent_usd": round(exc.spent_usd, 2), "retry_after_seconds": exc.retry_after}
    ]
    return error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "spend_ceiling",
        str(exc),
        details,
        {"Retry-After": str(exc.retry_after)},
    )


def _spend_headers(app: APIGatewayHttpResolver, next_middleware: Callable[..., Response[Any]]) -> Response[Any]:
    """Each answer that charged its caller says what is left of their tightest window (``RateLimit-*``)."""
    forget_charge()
    response = next_middleware(app)
    charge = last_charge()
    if charge is not None:
        response.headers.update(rate_limit_headers(charge.limit, charge.remaining, charge.reset_s, charge.window_s))
    return response


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
    TooManyVotes: _too_many_votes,
    OverAllowance: _over_allowance,
    SpendCeilingReached: _ceiling,
    RequestUnsupportedContentType: lambda _: error_response(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", _UNSUPPORTED
    ),
    json.JSONDecodeError: lambda _: error_response(
        HTTPStatus.BAD_REQUEST, "invalid_json", "the body is not valid JSON"
    ),
    Exception: _unexpected,
}


def _from_table(status: HTTPStatus, code: str) -> Callable[[Exception], Response[str]]:
    return lambda exc: error_response(status, code, str(exc))


_JSON = "application/json"
_FORMS = ("multipart/", "application/x-www-form-urlencoded")


def _not_json(event: Mapping[str, Any]) -> bool:
    """A body sent as something other than JSON. Powertools would parse forms itself (and a multipart type
    without its boundary raises a bare ValueError inside its validation, before any middleware of ours runs)."""
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").strip().lower()
    if not content_type or content_type.startswith(_JSON):
        return False
    return bool(event.get("body")) or content_type.startswith(_FORMS)


def _array_body(event: Mapping[str, Any]) -> bool:
    """A JSON array as the whole body. Every body this API takes is an object (or nothing), and Powertools'
    validation would quietly take an array's first element in its place."""
    body = event.get("body")
    return isinstance(body, str) and not event.get("isBase64Encoded") and body.lstrip().startswith("[")


def _refusal(status: HTTPStatus, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": status.value,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": {"code": code, "message": message}}),
        "isBase64Encoded": False,
    }


class Resolver(APIGatewayHttpResolver):
    """Powertools' HTTP API resolver, refusing a body that is not JSON (415) or not a JSON object (400) before
    Powertools parses it: its validation runs before any middleware of ours could. ``role_claim`` names the
    claim that carries the caller's roles (the deployment's setting, read when a request needs it)."""

    def __init__(self, *, role_claim: Callable[[], str], enable_validation: bool = True) -> None:
        super().__init__(enable_validation=enable_validation)
        self.role_claim = role_claim

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        if _not_json(event):
            return _refusal(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", _UNSUPPORTED)
        if _array_body(event):
            return _refusal(HTTPStatus.BAD_REQUEST, "invalid_request", "the body must be a JSON object")
        return super().resolve(event, context)


def json_integer(value: Any) -> Any:
    """A JSON body's integer as JSON has it: not true/false, not a string of digits (pydantic's lax mode would
    take both, while the document says integer). Query parameters, always strings, do not use this."""
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    return value


def refuse_unknown_parameters(app: APIGatewayHttpResolver, known: Iterable[str]) -> None:
    """A query parameter the route does not take is a 400 naming it, as an unknown body field is (Powertools
    reads only the parameters it knows and would drop a typo such as ``topc`` silently)."""
    names = sorted(known)
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - set(names))
    if not unknown:
        return
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, names, n=1)
        hints.append(f"{name}; did you mean {close[0]}?" if close else name)
    plural = "s" if len(unknown) > 1 else ""
    raise InvalidRequest(f"unknown parameter{plural} {', '.join(hints)} (known: {', '.join(names)})")


def build_resolver(role_claim: Callable[[], str]) -> Resolver:
    """A resolver with request validation (and so an OpenAPI document) and the error table's mapping; callers'
    roles from the claim ``role_claim()`` names (``pregen.wiring.identity.role_claim``)."""
    app = Resolver(role_claim=role_claim)
    for error, (status, code) in ERRORS.items():
        app.exception_handler(error)(_from_table(status, code))
    for error, handler in _HANDLERS.items():
        app.exception_handler(error)(handler)
    app.not_found(lambda _: error_response(HTTPStatus.NOT_FOUND, "not_found", "no such route"))
    app.use([_spend_headers])
    return app
