"""Bad input against the local stack over HTTP: schemathesis generates requests from the OpenAPI document the
stack serves (Powertools' generated documents, merged: pregen_local.openapi) and checks every answer.

No answer may be a 5xx, and every answer must be one the document declares, with a body matching its schema.
The document is built from template.yaml's routes, so a new route is fuzzed without touching this file.
"""

from __future__ import annotations

import json
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from pregen_local import devjwt, openapi
from pregen_local.template import ROOT, Template

if TYPE_CHECKING:
    from schemathesis import Case

    from pregen_local.template import Route

pytestmark = pytest.mark.e2e

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 40  # per operation and generation mode: bounded, so the run stays within tens of seconds


@pytest.fixture(scope="module")
def served(own_stack: dict[str, str]) -> dict[str, Any]:
    with urllib.request.urlopen(f"{own_stack['url']}/openapi.json", timeout=30) as response:
        assert response.status == 200
        document: dict[str, Any] = json.loads(response.read())
    return document


@pytest.fixture(scope="module")
def api_schema(served: dict[str, Any], own_stack: dict[str, str]) -> Any:
    # Fuzzing warms, pre-generates and navigates a lot: its own stack, so its backlog delays no other test.
    schema = schemathesis.openapi.from_dict(served)
    schema.config.update(base_url=own_stack["url"])
    return schema


def test_the_stack_serves_the_document_in_docs(served: dict[str, Any]) -> None:
    # docs/openapi.json is what the stack serves: regenerate it with `python -m pregen_local.openapi`.
    on_disk = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served == on_disk == openapi.document()
    routes = {(m.upper(), p) for p, ops in served["paths"].items() for m in ops}
    assert routes == {(r.method, r.path) for r in Template().routes()}


def _route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


# Driven with hypothesis directly rather than schemathesis' pytest plugin (which does not load under pytest 9).
@pytest.mark.parametrize("route", Template().routes(), ids=_route_id)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_input_gets_a_5xx_or_an_undeclared_answer(api_schema: Any, route: Route, mode: GenerationMode) -> None:
    operation = api_schema[route.path][route.method]
    tokens = {role: devjwt.mint(f"fuzz-{role}", role) for role in ("admin", "student")}
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def fuzz(case: Case) -> None:
        for token in tokens.values():
            response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS, timeout=30)
            statuses.append(response.status_code)

    fuzz()
    # The run did send requests, and the answers were the API's own (not all refused by the authorizer)
    assert len(statuses) >= 10
    assert set(statuses) - {401}, statuses
