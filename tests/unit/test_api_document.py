"""The OpenAPI document says what the validators accept: a request it allows is accepted, one it refuses is refused.

The fuzzing over HTTP (tests/e2e/test_bad_input.py) samples this at random; these tests walk the rules one by one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from pregen.domain.models import KIND_SHAPES, ContentRequest, ExamType, Kind, QuestionType
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


def test_the_query_of_get_content_is_the_same_union_without_nulls() -> None:
    parameters = DOCUMENT["paths"]["/v1/content"]["get"]["parameters"]
    (parameter,) = [p for p in parameters if p["in"] == "query"]
    assert (parameter["in"], parameter["style"], parameter["explode"]) == ("query", "form", True)
    variants = parameter["schema"]["oneOf"]
    assert [v["properties"]["kind"]["const"] for v in variants] == [k.value for k in KIND_SHAPES]
    for query in variants:
        body = variant(Kind(query["properties"]["kind"]["const"]))
        assert query["required"] == body["required"]
        listed = {name for name, schema in query["properties"].items() if schema is not False}
        assert listed == set(body["properties"])
        assert "null" not in str(query)


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
