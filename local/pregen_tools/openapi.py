"""One OpenAPI document for the whole HTTP API, merged from Powertools' generated documents.

Each API function has its own ``APIGatewayHttpResolver(enable_validation=True)``, which generates the OpenAPI
description of its routes from their annotations. This module imports every function that template.yaml routes
to, merges their documents (paths and component schemas), and adds what the resolvers cannot know: the JWT
authorizer in front of every route and the error answers every route can give (the API-wide error body of
``pregen.http.api``). The local stack serves it at ``GET /openapi.json``; ``python -m pregen_tools.openapi`` writes it
to docs/openapi.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

from aws_emulator.template import ROOT, Template
from pregen.domain.models import KIND_SHAPES, Kind

DOC = ROOT / "docs" / "openapi.json"
# What a browser app on another origin may read: template.yaml's CorsConfiguration exposes these (when the stack's
# CorsAllowedOrigins names the app's origin), besides the CORS-safelisted ones such as Cache-Control.
EXPOSED_HEADERS = ("Location", "Retry-After", "ETag", "X-Cache")
BROWSER_NOTE = (
    "Pre-generated, cached learning content. Every route needs a learner JWT. "
    "Browsers: the API allows the origins its stack lists (CorsAllowedOrigins; none by default), and a page on "
    f"such an origin may read the response headers {', '.join(EXPOSED_HEADERS)} (and the CORS-safelisted ones)."
)

# Every route can answer these besides its own success codes: the error body is the same everywhere.
ERRORS = {
    "400": "The request is not valid (query, path or body); details say which part.",
    "401": "No valid bearer token (the JWT authorizer, or a token without a subject).",
    "403": "The caller's role may not do this.",
    "404": "No such resource, or it belongs to another learner; also API Gateway's answer to a method or route "
    "the API does not have.",
    "429": "Throttled: API Gateway's route or account limits, or what is left of the caller's spend allowance "
    "(Retry-After: seconds; RateLimit-*: the window, in microdollars).",
}
# Routes that charge their caller the estimated price of the model work they enqueue (pregen.services.limits).
OVER_ALLOWANCE = (
    "The request costs more than the caller's whole allowance of a window (details: cost and allowed, in "
    "microdollars): no wait lets it through, so ask for less at once."
)
SPEND_CEILING = (
    "Today's model spend reached the operator's daily ceiling: no new generation starts until the next UTC day "
    "(Retry-After); content already generated is still served."
)
_CHARGED = {
    ("get", "/v1/content"),
    ("post", "/v1/pregenerate"),
    ("post", "/v1/warm"),
    ("post", "/v1/content/{content_id}/regenerate"),
    ("post", "/v1/exams/warm"),
    ("post", "/v1/exams/{exam}/claim"),
    ("post", "/v1/courses"),
    ("post", "/v1/courses/{course}/retry"),
}
# The spend headers of a charged answer (IETF draft "RateLimit header fields for HTTP"; pregen.http.api).
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "the caller's tightest window's allowance, in microdollars of estimated model spend",
    "RateLimit-Remaining": "what is left of it after this request, in microdollars",
    "RateLimit-Reset": "seconds until the window starts again",
    "RateLimit-Policy": 'the window: <limit>;w=<seconds>;comment="microdollars"',
}
# Routes that take a body answer a body that is not JSON with 415.
UNSUPPORTED = "The body is not JSON (Content-Type must be application/json)."
# Routes that enqueue a generation or record a vote answer 409 when a race for the same item outlasts its retries.
CONFLICT = "The item kept changing while it was being written; the request may be sent again."
_CONFLICTS = {
    ("get", "/v1/content"),
    ("post", "/v1/pregenerate"),
    ("post", "/v1/warm"),
    ("post", "/v1/events/navigation"),
    ("post", "/v1/content/{content_id}/regenerate"),
    ("post", "/v1/content/{content_id}/votes"),
    ("post", "/v1/exams/{exam}/claim"),
    ("post", "/v1/courses"),  # also: an Idempotency-Key reused with another course, or still being accepted
    ("post", "/v1/courses/{course}/retry"),  # also: a course that has not failed
    ("post", "/v1/exams/{exam}/answers"),
}
# A 409 that means something else than a race.
_CONFLICT_MEANS = {
    "/v1/exams/{exam}/answers": "The exam was already answered (one graded attempt per exam): GET its /attempt.",
}

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {}},
            },
        }
    },
}


# The request header a route that can answer 304 reads (pregen.http.caching).
_IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": 'Entity tags the client holds ("<content id>", W/"<content id>", a list, or *): a match is '
    "answered 304 without a body (RFC 9110 13.1.2).",
    "schema": {"type": "string"},
}

# What API Gateway itself answers (the JWT authorizer's 401, throttling's 429, an unknown route's 404).
_GATEWAY_ERROR_SCHEMA = {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}}


def _api_modules(template: Template) -> list[str]:
    functions = template.functions()
    return sorted({functions[route.function].module for route in template.routes()})


def document(template: Template | None = None) -> dict[str, Any]:
    """The merged OpenAPI 3 document of every route in template.yaml."""
    template = template or Template()
    merged: dict[str, Any] = {}
    for module in _api_modules(template):
        app = importlib.import_module(module).app
        part = json.loads(
            app.get_openapi_json_schema(
                title="Pregen",
                version="1",
                description=BROWSER_NOTE,
            )
        )
        if not merged:
            merged = part
            merged.setdefault("paths", {})
            continue
        for path, operations in part.get("paths", {}).items():
            merged["paths"].setdefault(path, {}).update(operations)
        schemas = part.get("components", {}).get("schemas", {})
        merged.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    components = merged.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
    components["securitySchemes"] = {"LearnerJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    merged["security"] = [{"LearnerJwt": []}]
    components["schemas"]["GatewayError"] = _GATEWAY_ERROR_SCHEMA
    _content_requests(merged)
    for path, operations in merged["paths"].items():
        for method, operation in operations.items():
            for response in operation.get("responses", {}).values():
                if response.get("content") == {}:  # an answer without a body (304)
                    del response["content"]
            if "304" in operation.get("responses", {}):
                operation.setdefault("parameters", []).append(dict(_IF_NONE_MATCH))
            conflict = _CONFLICT_MEANS.get(path, CONFLICT) if (method, path) in _CONFLICTS else None
            _errors(operation, conflict, charged=(method, path) in _CHARGED)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter["schema"])
    return merged


def _errors(operation: dict[str, Any], conflict: str | None, *, charged: bool = False) -> None:
    """The error answers of one operation, with their bodies: ours (pregen.http.api) or API Gateway's."""
    ours = {"$ref": "#/components/schemas/Error"}
    gateway = {"$ref": "#/components/schemas/GatewayError"}
    either = {"anyOf": [ours, gateway]}
    bodies = {"400": ours, "401": either, "403": ours, "404": either, "429": either}
    responses = operation.setdefault("responses", {})
    # Powertools answers a failed validation with 422 by default; ours (pregen.http.api) answer 400.
    responses.pop("422", None)
    errors = dict(ERRORS)
    if "requestBody" in operation:
        errors["415"] = UNSUPPORTED
    if conflict:
        errors["409"] = conflict
    spend = {name: {"description": text, "schema": {"type": "string"}} for name, text in RATE_LIMIT_HEADERS.items()}
    if charged:
        errors["422"] = OVER_ALLOWANCE
        errors["503"] = SPEND_CEILING
        for status, success in responses.items():
            if status.startswith("2"):
                success.setdefault("headers", {}).update(spend)
    for status, description in errors.items():
        answer: dict[str, Any] = {
            "description": description,
            "content": {"application/json": {"schema": bodies.get(status, ours)}},
        }
        if status in {"429", "503"}:
            answer["headers"] = {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}}
            if charged and status == "429":
                answer["headers"].update(spend)
        responses.setdefault(status, answer)


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query or path parameter is never JSON null: drop the null branch pydantic gives an optional field."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [b for b in branches if b.get("type") != "null"]
    rest = {k: v for k, v in schema.items() if k != "anyOf"}
    return {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}


def _variant_name(kind: Kind) -> str:
    return "".join(part.title() for part in kind.value.split("_")) + "Request"


def _kind_variant(base: dict[str, Any], kind: Kind, *, query: bool) -> dict[str, Any]:
    """One kind's request: only the fields it takes (pregen.domain.models.KIND_SHAPES), those it needs required,
    its count bounds and scope. A query cannot carry null; it names the fields the kind refuses (``false``), and
    like the body refuses any other name (the API answers 400 naming an unknown parameter)."""
    shape = KIND_SHAPES[kind]
    properties: dict[str, Any] = {}
    for name, schema in base["properties"].items():
        if name not in shape.fields():
            if query:
                properties[name] = False
            continue
        properties[name] = _without_null(schema) if query or name in shape.needs else schema
    properties["kind"] = {"type": "string", "const": kind.value}
    if shape.count is not None:
        low, high = shape.count
        count = {"type": "integer", "minimum": low, "maximum": high, "description": f"how many {shape.unit}"}
        properties["count"] = count if query else {"anyOf": [count, {"type": "null"}]}
    if shape.scope is not None:
        properties["scope"] = {"type": "string", "const": shape.scope.value, "description": "always this scope"}
    variant: dict[str, Any] = {
        "type": "object",
        "title": _variant_name(kind),
        "properties": properties,
        "required": ["kind", "subject", *shape.needs],
    }
    variant["additionalProperties"] = False
    return variant


def _content_requests(document: dict[str, Any]) -> None:
    """Make ContentRequest a union discriminated by ``kind``, in the body (POST /v1/pregenerate) and in the query
    of GET /v1/content, where Powertools lists the model's fields as separate parameters that cannot say which
    fields go together."""
    schemas = document["components"]["schemas"]
    base = schemas["ContentRequest"]
    union = {
        "description": base["description"],
        "oneOf": [{"$ref": f"#/components/schemas/{_variant_name(kind)}"} for kind in KIND_SHAPES],
        "discriminator": {
            "propertyName": "kind",
            "mapping": {kind.value: f"#/components/schemas/{_variant_name(kind)}" for kind in KIND_SHAPES},
        },
    }
    for kind in KIND_SHAPES:
        schemas[_variant_name(kind)] = _kind_variant(base, kind, query=False)
    schemas["ContentRequest"] = union
    operation = document["paths"]["/v1/content"]["get"]
    operation["parameters"] = [
        {
            "name": "request",
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "description": "The request's fields as query parameters (kind=lesson&subject=...). Which fields a kind "
            "takes is the same as in ContentRequest; a parameter the API does not know is a 400 that names it.",
            "schema": {"oneOf": [_kind_variant(base, kind, query=True) for kind in KIND_SHAPES]},
        }
    ]


def page() -> tuple[int, str, bytes]:
    """The front's ``extra_pages`` entry: built on each call, so it follows the handlers as they are."""
    return 200, "application/json", json.dumps(document(), indent=2).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pregen_tools.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DOC))
    args = parser.parse_args(argv)
    text = json.dumps(document(), indent=2) + "\n"
    with open(args.out, "w") as out:  # noqa: PTH123
        out.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
