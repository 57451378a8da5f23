"""One key per meaning (issue 31): requests that mean the same thing map to one cache key, requests that ask for
something else do not. The pairs live in tests/data/equivalent_requests.json, written as app developers send them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest
from pregen.domain.text import canonical_name
from pregen.domain.warming import default_warming_config

PAIRS = json.loads((Path(__file__).parents[1] / "data" / "equivalent_requests.json").read_text())


def _keys(pair: dict[str, Any]) -> tuple[str, str]:
    subs = pair.get("subs", ["alice", "alice"])
    return (
        cache_key(ContentRequest.model_validate(pair["a"]), Caller(sub=subs[0])),
        cache_key(ContentRequest.model_validate(pair["b"]), Caller(sub=subs[1])),
    )


def test_the_floor_holds_twenty_pairs_of_each() -> None:
    assert len(PAIRS["same"]) >= 20
    assert len(PAIRS["different"]) >= 20


@pytest.mark.parametrize("pair", PAIRS["same"], ids=lambda pair: pair["why"])
def test_requests_that_mean_the_same_thing_map_to_one_key(pair: dict[str, Any]) -> None:
    first, second = _keys(pair)
    assert first == second
    a, b = ContentRequest.model_validate(pair["a"]), ContentRequest.model_validate(pair["b"])
    assert a.canonical() == b.canonical()


@pytest.mark.parametrize("pair", PAIRS["different"], ids=lambda pair: pair["why"])
def test_requests_that_ask_for_something_else_map_to_different_keys(pair: dict[str, Any]) -> None:
    first, second = _keys(pair)
    assert first != second


def test_the_canonical_form_of_a_request_asks_for_the_same_key() -> None:
    # What a navigation answer shows of a prepared request, sent back as a request, finds the same key
    for pair in PAIRS["same"] + PAIRS["different"]:
        request = ContentRequest.model_validate(pair["a"])
        again = ContentRequest.model_validate(request.canonical())
        assert cache_key(again, Caller(sub="alice")) == cache_key(request, Caller(sub="alice"))


def test_a_lesson_without_a_number_is_lesson_one_but_keeps_the_key_it_had() -> None:
    request = ContentRequest.model_validate({"kind": "lesson", "subject": "Python"})
    assert request.lesson_number == 1  # what the generator is told
    assert "lesson_number" not in request.canonical()  # the key unnumbered lessons always had
    numbered = ContentRequest.model_validate({"kind": "lesson", "subject": "Python", "lesson_number": 2})
    assert numbered.canonical()["lesson_number"] == 2


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("algebra_1", "algebra 1"),
        ("Algebra 1", "algebra 1"),
        ("algebra-1", "algebra 1"),
        (" ALGEBRA  1 ", "algebra 1"),
        ("Pre\u2013Calculus", "pre calculus"),
        ("Newton\u2019s laws", "newton's laws"),
        ("numbers from -10 to 10", "numbers from -10 to 10"),
        ("x - y", "x - y"),
    ],
)
def test_canonical_name_folds_spellings_of_one_name(spelling: str, canonical: str) -> None:
    assert canonical_name(spelling) == canonical


@pytest.mark.parametrize("spelling", ["algebra_1", "Algebra 1", "algebra-1", " ALGEBRA  1 "])
def test_every_spelling_of_a_subject_finds_the_warming_catalogue_entry(spelling: str) -> None:
    config = default_warming_config()
    skill = config.grades["10"].subjects["algebra_1"].skills[0]
    assert config.subject_ids("10", [spelling]) == ["algebra_1"]
    assert config.covers("10", spelling, skill.upper().replace(" ", "_"))
    assert config.question_types("10", spelling) == list(config.grades["10"].subjects["algebra_1"].question_types)


def test_warmed_sets_and_an_apps_request_by_subject_id_share_their_keys() -> None:
    config = default_warming_config()
    warmed = {cache_key(r, Caller(sub="ops")) for r in config.requests_for("10", ["pre_calculus"])}
    subject = config.grades["10"].subjects["pre_calculus"]
    asked = ContentRequest(
        kind="question_set",  # type: ignore[arg-type]
        subject="pre_calculus",
        topic=subject.skills[0].lower(),
        grade="10",
        question_type=subject.question_types[0],
    )
    assert cache_key(asked, Caller(sub="lena")) in warmed
