"""The language-learning kinds: offline content is schema-valid, every schema rejects malformed content,
old requests keep their cache keys, and the validation score comes from real checks of the content."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from pregen.adapters.generators.offline import OfflineGenerator
from pregen.adapters.generators.prompts import user_prompt
from pregen.domain.errors import ContentInvalid
from pregen.domain.keys import cache_key
from pregen.domain.models import LANGUAGE_KINDS, Caller, ContentRequest, Kind, Scope
from pregen.domain.quality import estimate_minutes, quality_checks, validation_score
from pregen.domain.schemas import validate_content

ALICE = Caller(sub="alice")


def language_request(kind: Kind, **extra: Any) -> ContentRequest:
    return ContentRequest.model_validate(
        {"kind": kind.value, "subject": "Spanish", "topic": "Food", "grade": "A2", "language": "Spanish", **extra}
    )


@pytest.mark.parametrize("kind", sorted(LANGUAGE_KINDS))
def test_offline_content_of_every_language_kind_is_valid_and_deterministic(kind: Kind) -> None:
    request = language_request(kind)
    first = OfflineGenerator().generate(request)
    content = validate_content(request, first.body)
    assert OfflineGenerator().generate(request).body == first.body
    # Each carries its level, topics and focus areas
    assert content.level == "a2"  # type: ignore[attr-defined]
    assert content.topics == ["food"]  # type: ignore[attr-defined]
    assert content.focus_areas  # type: ignore[attr-defined]
    # And feedback (a regeneration) yields a different, still valid version
    revised = OfflineGenerator().generate(request, feedback="Too easy")
    assert revised.body != first.body
    validate_content(request, revised.body)


def _mutated(kind: Kind, mutate: Any, **extra: Any) -> tuple[ContentRequest, dict[str, Any]]:
    request = language_request(kind, **extra)
    body = copy.deepcopy(OfflineGenerator().generate(request).body)
    mutate(body)
    return request, body


MALFORMED = [
    # shared by every language kind
    *[(kind, lambda b: b.pop("level"), "level") for kind in sorted(LANGUAGE_KINDS)],
    *[(kind, lambda b: b.update(topics=[]), "topics") for kind in sorted(LANGUAGE_KINDS)],
    *[(kind, lambda b: b.update(focus_areas=[]), "focus_areas") for kind in sorted(LANGUAGE_KINDS)],
    *[(kind, lambda b: b.update(estimated_minutes=0), "estimated_minutes") for kind in sorted(LANGUAGE_KINDS)],
    *[(kind, lambda b: b.update(surprise=1), "surprise") for kind in sorted(LANGUAGE_KINDS)],
    # kind by kind
    (Kind.VOCABULARY_DRILL, lambda b: b["items"][0].update(example="No use of it here."), "example must use"),
    (Kind.VOCABULARY_DRILL, lambda b: b["items"][0].pop("translation"), "translation"),
    (Kind.VOCABULARY_DRILL, lambda b: b["items"].append(b["items"][0]), "expected exactly"),
    (Kind.VOCABULARY_DRILL, lambda b: b.update(language="french"), "language must be"),
    (Kind.GRAMMAR_EXERCISE, lambda b: b["exercises"][0].update(prompt="No blank here."), "one ___ per answer"),
    (Kind.GRAMMAR_EXERCISE, lambda b: b.update(grammar_point=""), "grammar_point"),
    (Kind.GRAMMAR_EXERCISE, lambda b: b["exercises"].pop(), "expected exactly"),
    (Kind.CULTURAL_CONTENT, lambda b: b.update(sections=[]), "sections"),
    (Kind.CULTURAL_CONTENT, lambda b: b.update(discussion_questions=[]), "discussion_questions"),
    (Kind.PRONUNCIATION_DRILL, lambda b: b["items"][0].pop("ipa"), "ipa"),
    (Kind.PRONUNCIATION_DRILL, lambda b: b["items"][0].update(minimal_pair=b["items"][0]["text"]), "minimal pair"),
    (Kind.PRONUNCIATION_DRILL, lambda b: b["items"][1].update(text=b["items"][0]["text"]), "must not repeat"),
    (Kind.CONVERSATION_PRACTICE, lambda b: b["turns"][0].update(speaker="Stranger"), "without a role"),
    (Kind.CONVERSATION_PRACTICE, lambda b: b.update(roles=["Learner"]), "roles"),
    (Kind.CONVERSATION_PRACTICE, lambda b: b.update(roles=["Learner", "learner"]), "distinct"),
    (Kind.PERSONALIZED_EXERCISE, lambda b: b["exercises"][0].update(difficulty="extreme"), "difficulty"),
    (Kind.PERSONALIZED_EXERCISE, lambda b: b["exercises"][0].pop("answer"), "answer"),
]


@pytest.mark.parametrize(("kind", "mutate", "error"), MALFORMED, ids=lambda p: p if isinstance(p, str) else None)
def test_every_language_kind_rejects_malformed_content(kind: Kind, mutate: Any, error: str) -> None:
    request, body = _mutated(kind, mutate)
    with pytest.raises(ContentInvalid) as raised:
        validate_content(request, body)
    assert error in " ".join(raised.value.errors)


# Keys computed by the walking skeleton's code (before the library fields existed): they must not change.
OLD_KEYS = [
    (
        {"kind": "lesson", "subject": "Python", "topic": "Variables", "grade": "10"},
        "1204d2c1fd7177c9f2023524d8360fba2de29255",
    ),
    (
        {"kind": "question_set", "subject": "Math", "question_type": "numeric"},
        "0628f64b8ae0193534c70664636f78662c33d851",
    ),
    (
        {"kind": "exam", "subject": "Nursing", "exam_type": "practice", "scope": "personal"},
        "1c728d2981dbfe61b1c1e76029444f3130b3fc58",
    ),
    (
        {"kind": "lesson", "subject": "Bio", "learning_style": "visual", "lesson_number": 3},
        "9c43d98af2c4047d7af7ec17cfb3ff82a729d064",
    ),
]


@pytest.mark.parametrize(("fields", "digest"), OLD_KEYS)
def test_requests_from_before_the_library_keep_their_cache_keys(fields: dict[str, Any], digest: str) -> None:
    request = ContentRequest.model_validate(fields)
    assert cache_key(request, ALICE) == f"v1-{fields['kind']}-{digest}"


def test_language_requests_normalise_to_one_key_and_fill_their_defaults() -> None:
    a = language_request(Kind.VOCABULARY_DRILL, focus="  Market   SHOPPING ")
    b = ContentRequest.model_validate(
        {
            "kind": "vocabulary_drill",
            "subject": "spanish",
            "topic": "food",
            "grade": "a2",
            "language": "spanish",
            "focus": "market shopping",
            "count": 10,
        }
    )
    assert cache_key(a, ALICE) == cache_key(b, ALICE)
    assert a.count == 10


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"kind": "exam", "subject": "Maths", "native_language": "english"},
            "apply only to the language-learning kinds",
        ),
        ({"kind": "cultural_content", "subject": "Spanish", "count": 3}, "count does not apply"),
        ({"kind": "vocabulary_drill", "subject": "Spanish", "count": 51}, "at most 50"),
        ({"kind": "conversation_practice", "subject": "Spanish", "count": 1}, "at least 2 turns"),
        ({"kind": "personalized_exercise", "subject": "Spanish", "scope": "shared"}, "always personal"),
        ({"kind": "grammar_exercise", "subject": "Spanish", "focus": "x" * 121}, "at most 120"),
    ],
)
def test_language_requests_reject_what_cannot_exist(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ContentRequest.model_validate(fields)


def test_a_personalized_exercise_is_personal_and_keyed_per_learner() -> None:
    request = ContentRequest.model_validate({"kind": "personalized_exercise", "subject": "Spanish"})
    assert request.scope is Scope.PERSONAL
    assert cache_key(request, ALICE) != cache_key(request, Caller(sub="bob"))


def test_the_prompt_carries_the_feedback_of_a_regeneration() -> None:
    request = language_request(Kind.GRAMMAR_EXERCISE, focus="preterite")
    assert "feedback" not in user_prompt(request)
    prompt = user_prompt(request, "Reason: the answers are in the present tense")
    assert "present tense" in prompt
    assert "Request (JSON):" in prompt  # the fake provider and the model still find the request


def test_the_validation_score_comes_from_checks_of_the_content() -> None:
    request = language_request(Kind.PERSONALIZED_EXERCISE)
    body = OfflineGenerator().generate(request).body
    good = validation_score(request, body)
    assert 0.0 < good <= 1.0
    # Off topic, thin explanations, one difficulty and the wrong level all lower the score
    worse = copy.deepcopy(body)
    worse["level"] = "c2"
    for exercise in worse["exercises"]:
        exercise.update(explanation="Because.", difficulty="easy")
    checks = quality_checks(request, worse)
    assert checks["level_matches"] == 0.0
    assert checks["explanations_teach"] == 0.0
    assert checks["difficulty_mix"] == 0.0
    assert validation_score(request, worse) < good


def test_duplicate_questions_lower_the_score_of_any_kind() -> None:
    request = ContentRequest.model_validate({"kind": "question_set", "subject": "Maths", "question_type": "numeric"})
    body = OfflineGenerator().generate(request).body
    repeated = copy.deepcopy(body)
    for question in repeated["questions"]:
        question["prompt"] = body["questions"][0]["prompt"]
    assert quality_checks(request, repeated)["distinct_items"] == pytest.approx(1 / 5)
    assert validation_score(request, repeated) < validation_score(request, body)


def test_estimated_minutes_come_from_the_content_or_its_length() -> None:
    assert estimate_minutes({"estimated_minutes": 12, "title": "x"}) == 12
    questions = [{"prompt": "word " * 10, "explanation": "word " * 20} for _ in range(10)]
    assert estimate_minutes({"questions": questions}) == 12  # 300 words / 180 wpm + 10 questions
