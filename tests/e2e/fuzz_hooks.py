"""Schemathesis hooks for tests/e2e/test_bad_input.py (loaded through SCHEMATHESIS_HOOKS).

Rules of the API that cannot be written in an OpenAPI schema, and the document's descriptions say so:
- the analytics window: ``from`` not after ``to``, at most 366 days (a rule between two parameters);
- warming's grade comes from the token when it carries one, and a body that contradicts it is refused;
- a courses cursor is one a previous page handed out (opaque: any other is a 400), and an Idempotency-Key
  names one course request (the same key with another body is a 409), so a positive case sends no cursor
  and a key of its own body.
- a learner's listing takes back only a cursor it gave that learner (any other string is a 400).
- ``GET /v1/content`` takes plain query parameters (what client generators serialise), and which of them a kind
  takes, needs and how far it counts is in their descriptions (pregen.domain.models.KIND_SHAPES): a positive case
  keeps to its kind's.
- a course share names exactly one of ``class_id`` and ``link: true`` (its fields' descriptions say so): a positive
  case keeps the class when it has one, else asks for a link.
For schema-valid (positive) cases only, the hooks below make such requests keep those rules, so a refusal
of what remains is a real contract gap. Negative cases are left as generated.

One check replaces schemathesis' ``unsupported_method``, which expects 405: API Gateway's HTTP API answers a
method a route does not have with 404 and ``{"message": "Not Found"}``, and the local stack answers as it does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import schemathesis
from schemathesis.core.failures import Failure
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario

from pregen.domain.models import KIND_SHAPES, Kind

FUZZ_GRADE = "10"  # the grade the fuzzing tokens carry (test_bad_input.py)
_MAX_SPAN_DAYS = 365  # to - from, so the window holds at most 366 days
_NEEDED = {"question_type": "multiple_choice", "exam_type": "practice"}  # a value for each field a kind needs


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _span(seed: str) -> dt.timedelta:
    return dt.timedelta(days=int(hashlib.sha256(seed.encode()).hexdigest(), 16) % (_MAX_SPAN_DAYS + 1))


def analytics_window(query: dict[str, Any]) -> dict[str, Any]:
    """A window that keeps the rules: the end follows from the start (or the start from the end)."""
    start, end = _date(query.get("from")), _date(query.get("to"))
    if (query.get("from") is not None and start is None) or (query.get("to") is not None and end is None):
        return query  # not dates: the schema already refuses them
    if start is not None:
        end = min(start + _span(str(start)), dt.date.max)
    elif end is not None:
        start = max(end - _span(str(end)), dt.date.min)
    else:
        return query
    return {**query, "from": start.isoformat(), "to": end.isoformat()}


def content_query(query: dict[str, Any]) -> dict[str, Any]:
    """Only the fields the query's kind takes, those it needs, a count within its bounds and its fixed scope."""
    shape = KIND_SHAPES[Kind(query["kind"])]
    kept = {name: value for name, value in query.items() if name in shape.fields()}
    kept.update({name: _NEEDED[name] for name in shape.needs if name not in kept})
    count = str(kept.get("count", ""))  # an integer, or its digits (a query's values may come as text)
    if shape.count is not None and count.isdigit():
        low, high = shape.count
        kept["count"] = min(max(int(count), low), high)
    if shape.scope is not None and "scope" in kept:
        kept["scope"] = shape.scope.value
    return kept


def _positive(case: Any) -> bool:
    meta = case.meta
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if not _positive(case):
        return case
    label = f"{case.method.upper()} {case.path}"
    if label == "GET /v1/content" and isinstance(case.query, dict) and case.query.get("kind") in set(Kind):
        case.query = content_query(case.query)
    if label == "GET /v1/analytics" and isinstance(case.query, dict):
        case.query = analytics_window(case.query)
    if label == "POST /v1/warm" and isinstance(case.body, dict) and "grade" in case.body:
        case.body = {**case.body, "grade": FUZZ_GRADE}
    if label == "GET /v1/courses" and isinstance(case.query, dict):
        case.query = {k: v for k, v in case.query.items() if k != "cursor"}
    if label == "POST /v1/courses" and isinstance(case.headers, dict) and "idempotency-key" in case.headers:
        digest = hashlib.sha256(repr(case.body).encode()).hexdigest()[:16]
        case.headers = {**case.headers, "idempotency-key": f"{case.headers['idempotency-key']}-{digest}"[-128:]}
    if label == "POST /v1/courses/{course}/shares" and isinstance(case.body, dict):
        case.body = {"class_id": case.body["class_id"]} if case.body.get("class_id") else {"link": True}
    if label == "GET /v1/me/content" and isinstance(case.query, dict) and "cursor" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "cursor"}  # a first page
    return case


@schemathesis.check
def api_gateway_unmatched_method(ctx: Any, response: Any, case: Any) -> bool | None:
    """A method the route does not declare gets 404 ``{"message": "Not Found"}``, as from API Gateway."""
    meta = case.meta
    if meta is None or not isinstance(meta.phase.data, CoveragePhaseData):
        return None
    if meta.phase.data.scenario != CoverageScenario.UNSPECIFIED_HTTP_METHOD:
        return None
    method = str(response.request.method)
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 404 or body != {"message": "Not Found"}:
        raise Failure(
            operation=case.operation.label,
            title="Not API Gateway's answer to an undeclared method",
            message=f"{method} answered {response.status_code} {body!r}; API Gateway answers 404 "
            '{"message": "Not Found"}',
        )
    return True
