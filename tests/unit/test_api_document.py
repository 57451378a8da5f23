"""The OpenAPI document says what the validators accept: a request it allows is accepted, one it refuses is refused.

The fuzzing over HTTP (tests/e2e/test_bad_input.py) samples this at random; these tests walk the rules one by one.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.models import KIND_SHAPES, ContentRequest, ExamType, JobStatus, Kind, QuestionType
from pregen.domain.schemas import schema_for
from pregen.domain.text import PLAIN, PLAIN_NOT_BLANK, PROSE, PROSE_NOT_BLANK
from pregen_tools import openapi

DOCUMENT = openapi.document()
SCHEMAS = DOCUMENT["components"]["schemas"]
NEEDED_VALUES: dict[str, Any] = {"question_type": QuestionType.NUMERIC.value, "exam_type": ExamType.PRACTICE.value}
ANY_VALUE: dict[str, Any] = {
    "topic": "fractions",
    "grade": "10",
    "learning_style": "visual",
    "question_type": "numeric",
    "exam_type": "diagnostic",
    "lesson_number": 2,
    "count": 3,
    "scope": "shared",
    "language": "spanish",
    "native_language": "english",
    "focus": "food",
}


def variant(kind: Kind) -> dict[str, Any]:
    union = SCHEMAS["ContentRequest"]
    ref = union["discriminator"]["mapping"][kind.value]
    assert {"$ref": ref} in union["oneOf"]
    schema: dict[str, Any] = SCHEMAS[ref.rsplit("/", 1)[1]]
    return schema


def minimal(kind: Kind) -> dict[str, Any]:
    schema = variant(kind)
    request = {"kind": kind.value, "subject": "maths"}
    request.update({name: NEEDED_VALUES[name] for name in schema["required"] if name in NEEDED_VALUES})
    return request


def accepted(request: dict[str, Any]) -> bool:
    try:
        ContentRequest.model_validate(request)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("kind", list(Kind))
def test_each_kind_has_its_own_schema_and_its_minimal_request_is_accepted(kind: Kind) -> None:
    schema = variant(kind)
    assert schema["properties"]["kind"] == {"type": "string", "const": kind.value}
    assert schema["additionalProperties"] is False
    assert accepted(minimal(kind))
    # Each needed field, left out, is refused: the schema requires it
    for name in schema["required"]:
        if name != "kind":
            assert not accepted({k: v for k, v in minimal(kind).items() if k != name}), name


@pytest.mark.parametrize("kind", list(Kind))
def test_a_field_the_kind_schema_does_not_list_is_refused_and_one_it_lists_is_accepted(kind: Kind) -> None:
    properties = variant(kind)["properties"]
    for name, value in ANY_VALUE.items():
        request = {**minimal(kind), name: value}
        if name == "scope" and KIND_SHAPES[kind].scope is not None:
            request[name] = KIND_SHAPES[kind].scope.value  # type: ignore[union-attr]
        assert accepted(request) == (name in properties), (kind, name)


@pytest.mark.parametrize("kind", [k for k in Kind if "count" in KIND_SHAPES[k].takes])
def test_count_bounds_in_the_schema_are_the_validators(kind: Kind) -> None:
    count = variant(kind)["properties"]["count"]["anyOf"][0]
    low, high = count["minimum"], count["maximum"]
    assert accepted({**minimal(kind), "count": low})
    assert accepted({**minimal(kind), "count": high})
    assert not accepted({**minimal(kind), "count": low - 1})
    assert not accepted({**minimal(kind), "count": high + 1})


TEXTS = [
    "algebra",
    "",
    "   ",
    "a\x00b",
    "tab\there",
    "line\nbreak",
    "del\x7f",
    "c1\x85control",
    "\u00a0",
    "ß" * 80,  # casefolds to 160 letters: the limit counts what was sent
    "ﬀ" * 80,  # NFKC makes each ligature two letters
    "ß" * 81,
    "数学",
]


@pytest.mark.parametrize("text", TEXTS)
def test_subject_and_topic_patterns_agree_with_the_validator(text: str) -> None:
    base = variant(Kind.LESSON)["properties"]
    subject, topic = base["subject"], base["topic"]

    def allows(schema: dict[str, Any], value: str) -> bool:
        return bool(re.search(schema["pattern"], value)) and len(value) <= schema["maxLength"]

    assert accepted({"kind": "lesson", "subject": text}) == (allows(subject, text) and len(text) >= 1)
    assert accepted({"kind": "lesson", "subject": "maths", "topic": text}) == allows(topic, text)


def test_the_patterns_are_what_their_names_say() -> None:
    assert re.search(PLAIN, "anything at all ✓") and not re.search(PLAIN, "a\x1fb")
    assert not re.search(PLAIN_NOT_BLANK, " \u3000 ") and re.search(PLAIN_NOT_BLANK, " x ")
    assert re.search(PROSE, "two\nlines\tand a tab") and not re.search(PROSE, "bell\x07")
    assert not re.search(PROSE_NOT_BLANK, "\n\t ") and re.search(PROSE_NOT_BLANK, "\nwhy\n")


def test_the_query_of_get_content_is_plain_parameters_one_per_field() -> None:
    """What generators serialise as name=value: no object, no oneOf; the kind rules are in the descriptions."""
    parameters = DOCUMENT["paths"]["/v1/content"]["get"]["parameters"]
    query = {p["name"]: p for p in parameters if p["in"] == "query"}
    assert set(query) == set(ContentRequest.model_fields)
    assert {name for name, p in query.items() if p["required"]} == {"kind", "subject"}
    assert query["kind"]["schema"] == {"$ref": "#/components/schemas/Kind"}
    for name, parameter in query.items():
        assert "oneOf" not in str(parameter) and "null" not in str(parameter), name
        kinds = [k for k in Kind if name in KIND_SHAPES[k].fields()]
        if len(kinds) < len(Kind):
            assert "Only for kind " + ", ".join(k.value for k in kinds) in parameter["description"], name
    assert query["objectives"]["schema"]["type"] == "array"
    assert (query["objectives"]["style"], query["objectives"]["explode"]) == ("form", True)
    assert "needed by question_set" in query["question_type"]["description"]
    count = query["count"]["schema"]
    assert (count["minimum"], count["maximum"]) == (1, 250)
    assert "brain_bytes 3-7 cards" in query["count"]["description"]


def _false_schemas(node: Any, path: str = "") -> list[str]:
    """Boolean schemas that openapi-python-client refuses (additionalProperties: false is a keyword, not one)."""
    found = []
    if isinstance(node, dict):
        for name, value in node.items():
            if value is False and (path.endswith("/properties") or name == "items"):
                found.append(f"{path}/{name}")
            found += _false_schemas(value, f"{path}/{name}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _false_schemas(value, f"{path}/{i}")
    return found


def test_the_document_has_no_boolean_false_schemas() -> None:
    assert _false_schemas(DOCUMENT) == []
    assert _false_schemas({"properties": {"x": False}}) == ["/properties/x"]  # the check finds one


@pytest.mark.parametrize("kind", list(Kind))
def test_each_kinds_content_matches_exactly_one_content_schema_its_own(kind: Kind) -> None:
    request = ContentRequest.model_validate(minimal(kind))
    body = OfflineGenerator().generate(request).body
    content = {"$ref": "#/components/schemas/Content", "components": DOCUMENT["components"]}
    assert not list(jsonschema.Draft202012Validator(content).iter_errors(body))
    matches = [
        branch["$ref"].rsplit("/", 1)[1]
        for branch in SCHEMAS["Content"]["oneOf"]
        if jsonschema.Draft202012Validator({**branch, "components": DOCUMENT["components"]}).is_valid(body)
    ]
    assert matches == [schema_for(kind).__name__]
    broken = {k: v for k, v in body.items() if k != "title"}
    assert not jsonschema.Draft202012Validator(content).is_valid(broken)


def test_answers_carrying_content_hold_the_content_union_and_name_kind_and_status_as_enums() -> None:
    for holder in ("ContentBody", "VersionContentBody", "PartContentBody"):
        assert SCHEMAS[holder]["properties"]["content"] == {"$ref": "#/components/schemas/Content"}
    assert SCHEMAS["ContentBody"]["properties"]["kind"] == {"$ref": "#/components/schemas/Kind"}
    job = SCHEMAS["JobBody"]["properties"]
    assert (job["kind"], job["status"]) == (
        {"$ref": "#/components/schemas/Kind"},
        {"$ref": "#/components/schemas/JobStatus"},
    )
    assert SCHEMAS["JobStatus"]["enum"] == [s.value for s in JobStatus]
    assert SCHEMAS["VersionBody"]["properties"]["status"] == {"$ref": "#/components/schemas/VersionStatus"}


def test_every_operation_has_a_unique_client_friendly_id_and_a_declared_tag() -> None:
    operations = [op for operations in DOCUMENT["paths"].values() for op in operations.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert {"getContent", "pregenerate", "claimExam", "createCourse"} <= set(ids)
    tags = {tag["name"] for tag in DOCUMENT["tags"]}
    assert all(len(op["tags"]) == 1 and op["tags"][0] in tags for op in operations)
    assert openapi._operation_id("post", "/v1/exams/{exam}/answers") == "postExamsAnswers"


def test_accepted_answers_declare_where_to_follow_and_when() -> None:
    get_content = DOCUMENT["paths"]["/v1/content"]["get"]["responses"]
    assert {"X-Cache", "Location", "Retry-After", "RateLimit-Remaining"} <= set(get_content["202"]["headers"])
    assert "X-Cache" in get_content["200"]["headers"]
    for path in ("/v1/courses", "/v1/exams/{exam}/claim", "/v1/ops/cron/{task}"):
        assert {"Location", "Retry-After"} <= set(DOCUMENT["paths"][path]["post"]["responses"]["202"]["headers"])


def test_every_route_declares_its_errors_and_the_closed_sets_are_enums() -> None:
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            declared = set(operation["responses"])
            assert {"400", "401", "403", "404", "429"} <= declared, (method, path)
            assert ("415" in declared) == ("requestBody" in operation), (method, path)
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    (task,) = DOCUMENT["paths"]["/v1/ops/cron/{task}"]["post"]["parameters"]
    assert "warm_all" in task["schema"]["enum"]
    dates = DOCUMENT["paths"]["/v1/analytics"]["get"]["parameters"]
    assert all(p["schema"]["format"] == "date" and "366 days" in p["description"] for p in dates)
    assert SCHEMAS["Kind"]["enum"] == [k.value for k in Kind]


def test_the_reads_of_content_declare_their_caching_and_a_304_without_a_body() -> None:
    cached = {
        path
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        if "304" in operation["responses"]
    }
    assert cached == {"/v1/content", "/v1/content/{content_id}"}
    for path in cached:
        operation = DOCUMENT["paths"][path]["get"]
        not_modified = operation["responses"]["304"]
        assert "content" not in not_modified
        assert {"ETag", "Cache-Control", "Vary"} <= set(not_modified["headers"])
        assert {"ETag", "Cache-Control"} <= set(operation["responses"]["200"]["headers"])
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [p["name"] for p in headers] == ["If-None-Match"]
