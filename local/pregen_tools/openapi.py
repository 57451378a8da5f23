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
import re
from typing import Any, Literal

from pydantic.json_schema import models_json_schema

from aws_emulator.template import ROOT, Template
from pregen.domain.models import KIND_SHAPES, Kind
from pregen.domain.schemas import SCHEMAS as CONTENT_MODELS

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
    "RateLimit-Remaining": (
        "what is left of it after this request, in microdollars; on a content miss at most this (the charge is "
        "counted in the claim's one write, which returns no counts: exact when this learner's earlier charges in the "
        "window were counted by the same serving environment)"
    ),
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
    ("put", "/v1/courses/{course}/parts/{part}/pin"),
}
# A 409 that means something else than a race.
_CONFLICT_MEANS = {
    "/v1/courses/{course}/parts/{part}/pin": "The part is not done yet: only a done part can be pinned.",
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

# Names a generated client gives the operations (openapi-python-client: ``get_content``; openapi-fetch by path), and
# the area each belongs to. A route not listed gets a name from its method and path (_operation_id).
OPERATIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("get", "/v1/content"): ("getContent", "content"),
    ("post", "/v1/pregenerate"): ("pregenerate", "content"),
    ("post", "/v1/warm"): ("warm", "content"),
    ("post", "/v1/events/navigation"): ("postNavigation", "content"),
    ("get", "/v1/jobs/{job_id}"): ("getJob", "content"),
    ("get", "/v1/content/{content_id}"): ("getContentVersion", "library"),
    ("get", "/v1/content/{content_id}/versions"): ("listContentVersions", "library"),
    ("post", "/v1/content/{content_id}/votes"): ("voteOnContent", "library"),
    ("post", "/v1/content/{content_id}/regenerate"): ("regenerateContent", "library"),
    ("delete", "/v1/aliases/{key}"): ("revokeAlias", "library"),
    ("post", "/v1/exams/warm"): ("warmExams", "exams"),
    ("post", "/v1/exams/{exam}/claim"): ("claimExam", "exams"),
    ("get", "/v1/exams/{exam}/inventory"): ("getExamInventory", "exams"),
    ("get", "/v1/exams/{exam}"): ("getExam", "exams"),
    ("post", "/v1/exams/{exam}/answers"): ("submitExamAnswers", "exams"),
    ("get", "/v1/exams/{exam}/attempt"): ("getExamAttempt", "exams"),
    ("post", "/v1/courses"): ("createCourse", "courses"),
    ("get", "/v1/courses"): ("listCourses", "courses"),
    ("get", "/v1/courses/{course}"): ("getCourse", "courses"),
    ("post", "/v1/courses/{course}/retry"): ("retryCourse", "courses"),
    ("post", "/v1/courses/{course}/shares"): ("shareCourse", "courses"),
    ("delete", "/v1/courses/{course}/shares/{share}"): ("revokeCourseShare", "courses"),
    ("put", "/v1/courses/{course}/parts/{part}/pin"): ("pinCoursePart", "courses"),
    ("delete", "/v1/courses/{course}/parts/{part}/pin"): ("unpinCoursePart", "courses"),
    ("get", "/v1/me/content"): ("listMyContent", "learners"),
    ("delete", "/v1/me"): ("eraseMe", "learners"),
    ("get", "/v1/me/erasure"): ("getMyErasure", "learners"),
    ("delete", "/v1/learners/{learner}"): ("eraseLearner", "learners"),
    ("get", "/v1/learners/{learner}/erasure"): ("getLearnerErasure", "learners"),
    ("get", "/v1/analytics"): ("getAnalytics", "analytics"),
    ("post", "/v1/ops/cron/{task}"): ("triggerCronTask", "operations"),
    ("get", "/v1/ops/cron/runs/{run_id}"): ("getCronRun", "operations"),
    ("post", "/v1/cron/run"): ("runTopUp", "operations"),
}
TAGS = {
    "content": "Ask for content (served from the cache, or generated: 202 and a job to follow), prepare it ahead",
    "library": "The versions of a piece of content, votes on them, and regeneration",
    "exams": "Exams prepared ahead per learner and exam type, claimed when needed",
    "courses": "Whole courses: planned, generated part by part, followed until ready",
    "learners": "A learner's own items and their erasure",
    "analytics": "Usage and cost figures (admins)",
    "operations": "Scheduled tasks run on demand (admins and the scheduler)",
}
_LOCATION = {"description": "where to follow the work (a path of this API)", "schema": {"type": "string"}}
_RETRY_AFTER = {"description": "seconds to wait before following Location", "schema": {"type": "string"}}
_X_CACHE = {"description": "HIT: served from the cache; MISS: a job generates it", "schema": {"type": "string"}}
# The headers of success answers, as the handlers send them (functions/*/app.py).
SUCCESS_HEADERS: dict[tuple[str, str, str], dict[str, Any]] = {
    ("get", "/v1/content", "200"): {"X-Cache": _X_CACHE},
    ("get", "/v1/content", "202"): {"X-Cache": _X_CACHE, "Location": _LOCATION, "Retry-After": _RETRY_AFTER},
    ("post", "/v1/content/{content_id}/regenerate", "202"): {"Location": _LOCATION},
    ("post", "/v1/exams/{exam}/claim", "200"): {"Location": _LOCATION},
    ("post", "/v1/exams/{exam}/answers", "201"): {"Location": _LOCATION},
    ("post", "/v1/exams/{exam}/claim", "202"): {"Location": _LOCATION, "Retry-After": _RETRY_AFTER},
    ("post", "/v1/courses", "202"): {"Location": _LOCATION, "Retry-After": _RETRY_AFTER},
    ("post", "/v1/courses/{course}/retry", "202"): {"Location": _LOCATION, "Retry-After": _RETRY_AFTER},
    ("post", "/v1/ops/cron/{task}", "202"): {"Location": _LOCATION, "Retry-After": _RETRY_AFTER},
    ("post", "/v1/cron/run", "202"): {"Location": _LOCATION, "Retry-After": _RETRY_AFTER},
}
# The answers that carry a piece of generated content, and the name of the property that holds it.
_CONTENT_HOLDERS = ("ContentBody", "VersionContentBody", "PartContentBody")

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
    _content_schemas(merged)
    _content_query(merged, _content_requests(merged))
    merged["tags"] = [{"name": name, "description": text} for name, text in TAGS.items()]
    for path, operations in merged["paths"].items():
        for method, operation in operations.items():
            _operation(method, path, operation)
    return merged


def _operation(method: str, path: str, operation: dict[str, Any]) -> None:
    """What one operation's generated document lacks: its name and area, its headers and its errors."""
    operation["operationId"], tag = OPERATIONS.get((method, path), (_operation_id(method, path), "other"))
    operation["tags"] = [tag]
    for status, response in operation.get("responses", {}).items():
        response.setdefault("headers", {}).update(SUCCESS_HEADERS.get((method, path, status), {}))
        if not response["headers"]:
            del response["headers"]
        if response.get("content") == {}:  # an answer without a body (304)
            del response["content"]
    if "304" in operation.get("responses", {}):
        operation.setdefault("parameters", []).append(dict(_IF_NONE_MATCH))
    conflict = _CONFLICT_MEANS.get(path, CONFLICT) if (method, path) in _CONFLICTS else None
    _errors(operation, conflict, charged=(method, path) in _CHARGED)
    for parameter in operation.get("parameters", []):
        parameter["schema"] = _without_null(parameter["schema"])


def _operation_id(method: str, path: str) -> str:
    """A route OPERATIONS does not name: its method and the words of its path (post /v1/exams/{exam}/answers:
    postExamsAnswers)."""
    words = [w for w in re.split(r"[/_-]", path) if w and w != "v1" and not w.startswith("{")]
    return method + "".join(w.title() for w in words)


def _content_schemas(document: dict[str, Any]) -> None:
    """Each kind's content schema, from the pydantic models the worker validates generated content with
    (pregen.domain.schemas), and the answers that carry content hold one of them instead of any object."""
    schemas = document["components"]["schemas"]
    mode: Literal["validation"] = "validation"  # what the worker accepts: fields with defaults are optional
    models = [(model, mode) for model in CONTENT_MODELS.values()]
    _, generated = models_json_schema(models, ref_template="#/components/schemas/{model}")
    for name, schema in generated["$defs"].items():
        if name in schemas and schemas[name] != schema:
            raise ValueError(f"two different schemas are named {name}")
        schemas[name] = schema
    schemas["Content"] = {
        "description": "The generated content: the schema of its kind (the answer's kind field says which; "
        + ", ".join(f"{kind.value}: {model.__name__}" for kind, model in CONTENT_MODELS.items())
        + ").",
        "oneOf": [{"$ref": f"#/components/schemas/{model.__name__}"} for model in CONTENT_MODELS.values()],
    }
    for holder in _CONTENT_HOLDERS:
        schemas[holder]["properties"]["content"] = {"$ref": "#/components/schemas/Content"}


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


def _kind_variant(base: dict[str, Any], kind: Kind) -> dict[str, Any]:
    """One kind's request body: only the fields it takes (pregen.domain.models.KIND_SHAPES), those it needs
    required, its count bounds and scope; like the API, it refuses any other name."""
    shape = KIND_SHAPES[kind]
    properties: dict[str, Any] = {}
    for name, schema in base["properties"].items():
        if name in shape.fields():
            properties[name] = _without_null(schema) if name in shape.needs else schema
    properties["kind"] = {"type": "string", "const": kind.value}
    if shape.count is not None:
        low, high = shape.count
        count = {"type": "integer", "minimum": low, "maximum": high, "description": f"how many {shape.unit}"}
        properties["count"] = {"anyOf": [count, {"type": "null"}]}
    if shape.scope is not None:
        properties["scope"] = {"type": "string", "const": shape.scope.value, "description": "always this scope"}
    return {
        "type": "object",
        "title": _variant_name(kind),
        "properties": properties,
        "required": ["kind", "subject", *shape.needs],
        "additionalProperties": False,
    }


def _content_requests(document: dict[str, Any]) -> dict[str, Any]:
    """Make ContentRequest (the body of POST /v1/pregenerate) a union discriminated by ``kind``; returns the
    model's own schema, which lists every field any kind takes."""
    schemas = document["components"]["schemas"]
    base: dict[str, Any] = schemas["ContentRequest"]
    union = {
        "description": base["description"],
        "oneOf": [{"$ref": f"#/components/schemas/{_variant_name(kind)}"} for kind in KIND_SHAPES],
        "discriminator": {
            "propertyName": "kind",
            "mapping": {kind.value: f"#/components/schemas/{_variant_name(kind)}" for kind in KIND_SHAPES},
        },
    }
    for kind in KIND_SHAPES:
        schemas[_variant_name(kind)] = _kind_variant(base, kind)
    schemas["ContentRequest"] = union
    return base


def _content_query(document: dict[str, Any], base: dict[str, Any]) -> None:
    """The query of GET /v1/content: one plain parameter per field of ContentRequest (what every client generator
    serialises as ``name=value``; objectives repeat). Which kinds take a field, need it, and how far it may count
    is in each description; the API enforces it (a field the kind does not take, or an unknown name, is a 400)."""
    parameters = [
        _query_parameter(name, schema, required=name in base["required"]) for name, schema in base["properties"].items()
    ]
    document["paths"]["/v1/content"]["get"]["parameters"] = parameters


def _query_parameter(name: str, field: dict[str, Any], *, required: bool) -> dict[str, Any]:
    """One field of ContentRequest as a query parameter, its description saying which kinds take it."""
    kinds = [kind for kind, shape in KIND_SHAPES.items() if name in shape.fields()]
    needed = [kind for kind in kinds if name in KIND_SHAPES[kind].needs]
    schema = dict(_without_null(field))  # a copy: the kinds' body schemas share the base's
    description = schema.pop("description", "")
    if name == "kind":
        schema = {"$ref": "#/components/schemas/Kind"}
    elif name == "count":
        bounds = {kind: shape.count for kind in kinds if (shape := KIND_SHAPES[kind]).count is not None}
        schema = {
            "type": "integer",
            "minimum": min(low for low, _ in bounds.values()),
            "maximum": max(high for _, high in bounds.values()),
        }
        description = "how many: " + "; ".join(
            f"{kind.value} {low}-{high} {KIND_SHAPES[kind].unit}" for kind, (low, high) in bounds.items()
        )
    elif name == "scope":
        fixed = {kind.value: shape.scope.value for kind, shape in KIND_SHAPES.items() if shape.scope is not None}
        description = "shared or personal; always " + ", ".join(f"{v} for {k}" for k, v in fixed.items())
    if len(kinds) < len(KIND_SHAPES):
        description += ". Only for kind " + ", ".join(k.value for k in kinds)
    if needed:
        description += "; needed by " + ", ".join(k.value for k in needed)
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": required}
    if description.strip(". "):
        parameter["description"] = description.strip(". ;") + "."
    parameter["schema"] = schema
    if schema.get("type") == "array":
        parameter["style"], parameter["explode"] = "form", True
    return parameter


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
