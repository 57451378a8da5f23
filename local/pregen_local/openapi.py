"""One OpenAPI document for the whole HTTP API, merged from Powertools' generated documents.

Each API function has its own ``APIGatewayHttpResolver(enable_validation=True)``, which generates the OpenAPI
description of its routes from their annotations. This module imports every function that template.yaml routes
to, merges their documents (paths and component schemas), and adds what the resolvers cannot know: the JWT
authorizer in front of every route and the error answers every route can give (the API-wide error body of
``pregen.http.api``). The local stack serves it at ``GET /openapi.json``; ``python -m pregen_local.openapi`` writes it
to docs/openapi.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

from pregen_local.template import ROOT, Template

DOC = ROOT / "docs" / "openapi.json"

# Every route can answer these besides its own success codes: the error body is the same everywhere.
ERRORS = {
    "400": "The request is not valid (query, path or body); details say which part.",
    "401": "No valid bearer token (the JWT authorizer, or a token without a subject).",
    "403": "The caller's role may not do this.",
    "404": "No such resource, or it belongs to another learner.",
    "429": "Throttled (API Gateway's route or account limits).",
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
                description="Pre-generated, cached learning content. Every route needs a learner JWT.",
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
    ours = {"$ref": "#/components/schemas/Error"}
    gateway = {"$ref": "#/components/schemas/GatewayError"}
    bodies = {"400": ours, "401": {"anyOf": [gateway, ours]}, "403": ours, "404": {"anyOf": [ours, gateway]}}
    for operations in merged["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            # Powertools answers a failed validation with 422 by default; ours (pregen.http.api) answer 400.
            responses.pop("422", None)
            for status, description in ERRORS.items():
                schema = bodies.get(status, gateway)
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": schema}}}
                )
    return merged


def page() -> tuple[int, str, bytes]:
    """The front's ``extra_pages`` entry: built on each call, so it follows the handlers as they are."""
    return 200, "application/json", json.dumps(document(), indent=2).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pregen_local.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DOC))
    args = parser.parse_args(argv)
    text = json.dumps(document(), indent=2) + "\n"
    with open(args.out, "w") as out:  # noqa: PTH123
        out.write(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
