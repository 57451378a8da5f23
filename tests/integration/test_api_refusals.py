"""Requests the OpenAPI document does not allow are refused with a 4xx JSON error, never a 5xx and never quietly
taken: bodies that are not JSON or not an object, JSON numbers sent as booleans or strings, unknown cron tasks,
text with control characters. Found by fuzzing the local stack with every check on (tests/e2e/test_bad_input.py)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.cron import app as cron
from functions.get_content import app as get_content
from functions.library import app as library
from functions.navigation import app as navigation
from functions.pre_generate import app as pre_generate
from functions.warm import app as warm
from tests.integration.conftest import Aws, api_event, call

LESSON = {"kind": "lesson", "subject": "maths"}
BODY_ROUTES: list[tuple[Any, str, Any]] = [
    (pre_generate, "pregenerate.json", {"requests": [LESSON]}),
    (warm, "warm.json", {"grade": "10"}),
    (library, "library_vote.json", {"vote": "up"}),
    (library, "library_regenerate.json", {"reason": "the answers are wrong"}),
    (navigation, "navigation.json", {"subject": "math", "to": {"step": "learn", "skill": "fractions"}}),
]


def with_content_type(event: dict[str, Any], content_type: str) -> dict[str, Any]:
    event["headers"] = {**event["headers"], "content-type": content_type}
    return event


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize(("module", "sample", "body"), BODY_ROUTES, ids=lambda v: getattr(v, "__name__", None))
def test_a_body_that_is_not_json_is_415(aws: Aws, module: Any, sample: str, body: Any, content_type: str) -> None:
    event = with_content_type(api_event(sample, role="teacher", body=body), content_type)
    status, headers, answer = call(module, event)
    assert status == 415, answer
    assert headers["content-type"] == "application/json"
    assert answer["error"]["code"] == "unsupported_media_type"
    # The same body as JSON is not refused for its type (it may still be, for what it says)
    status, _, _ = call(module, with_content_type(api_event(sample, role="teacher", body=body), "application/json"))
    assert status != 415


@pytest.mark.parametrize(("module", "sample", "body"), BODY_ROUTES, ids=lambda v: getattr(v, "__name__", None))
def test_a_json_array_is_not_taken_for_its_first_element(aws: Aws, module: Any, sample: str, body: Any) -> None:
    status, _, answer = call(module, api_event(sample, role="teacher", body=[body]))
    assert status == 400, answer
    assert answer["error"]["message"] == "the body must be a JSON object"


@pytest.mark.parametrize(
    "batch",
    [
        {"priority": False, "requests": [LESSON]},
        {"priority": "50", "requests": [LESSON]},
        {"requests": [{**LESSON, "lesson_number": True}]},
        {"requests": [{"kind": "question_set", "subject": "m", "question_type": "numeric", "count": "3"}]},
    ],
)
def test_json_numbers_sent_as_booleans_or_strings_are_400(aws: Aws, batch: dict[str, Any]) -> None:
    status, _, answer = call(pre_generate, api_event("pregenerate.json", role="teacher", body=batch))
    assert status == 400, answer
    assert "must be an integer" in str(answer["error"]["details"])


def test_the_same_numbers_as_json_integers_are_accepted(aws: Aws) -> None:
    batch = {"priority": 40, "requests": [{**LESSON, "lesson_number": 2}]}
    status, _, answer = call(pre_generate, api_event("pregenerate.json", role="teacher", body=batch))
    assert status == 202, answer


def test_an_unknown_cron_task_is_400_before_anything_runs(aws: Aws) -> None:
    event = api_event("cron_http.json", role="admin", path="/v1/ops/cron/nope", path_parameters={"task": "nope"})
    status, _, answer = call(cron, event)
    assert status == 400, answer
    assert answer["error"]["details"][0]["location"] == "path.task"


@pytest.mark.parametrize(
    ("module", "sample", "body"),
    [
        (library, "library_vote.json", {"vote": "up", "comment": "bad\x07bell"}),
        (library, "library_regenerate.json", {"reason": "why\x00"}),
        (library, "library_regenerate.json", {"reason": " \n\t "}),
        (navigation, "navigation.json", {"subject": "ma\x1bth", "to": {"step": "learn", "skill": "x"}}),
        (warm, "warm.json", {"grade": "1\x000"}),
        (warm, "warm.json", {"grade": "10", "subjects": ["   "]}),
        (pre_generate, "pregenerate.json", {"requests": [{**LESSON, "objectives": ["ex\x00plain"]}]}),
        (pre_generate, "pregenerate.json", {"requests": [{**LESSON, "objectives": ["  "]}]}),
        (pre_generate, "pregenerate.json", {"requests": [{**LESSON, "objectives": "explain fractions"}]}),
        (pre_generate, "pregenerate.json", {"requests": [{**LESSON, "objectives": [{"text": "x"}]}]}),
        (pre_generate, "pregenerate.json", {"requests": [{"kind": "exam", "subject": "m", "objectives": ["x"]}]}),
    ],
)
def test_control_characters_and_blank_text_are_400(aws: Aws, module: Any, sample: str, body: Any) -> None:
    status, _, answer = call(module, api_event(sample, role="teacher", body=body))
    assert status == 400, answer


def test_prose_keeps_its_lines_and_tabs(aws: Aws) -> None:
    body = {"vote": "down", "comment": "  first line\n\tsecond line  "}
    status, _, answer = call(library, api_event("library_vote.json", body=body))
    # The sample's content does not exist here: the comment passed validation and reached the vote (404)
    assert status == 404, answer
    assert answer["error"]["code"] == "not_found"


def test_an_unknown_query_parameter_is_400_naming_it_and_generates_nothing(aws: Aws) -> None:
    query = {"kind": "lesson", "subject": "maths", "topc": "fractions"}
    status, _, answer = call(get_content, api_event("get_content.json", query=query))
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_request"
    assert answer["error"]["message"].startswith("unknown parameter topc; did you mean topic?")
    assert aws.depth("InteractiveQueue") == 0
    # Without the typo the same request is taken
    fixed = {"kind": "lesson", "subject": "maths", "topic": "fractions"}
    status, _, _ = call(get_content, api_event("get_content.json", query=fixed))
    assert status == 202


def test_an_unknown_pregenerate_field_is_400_naming_it(aws: Aws) -> None:
    batch = {"requests": [LESSON], "priorty": 80}
    status, _, answer = call(pre_generate, api_event("pregenerate.json", role="teacher", body=batch))
    assert status == 400, answer
    assert "priorty" in str(answer["error"]["details"])
    assert aws.depth("InteractiveQueue") == 0
