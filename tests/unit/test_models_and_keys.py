"""ContentRequest normalisation and the canonical cache key."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest, Kind, Priority, Role, Scope

ALICE = Caller(sub="alice")
BOB = Caller(sub="bob")


def lesson(**fields: object) -> ContentRequest:
    return ContentRequest.model_validate({"kind": "lesson", "subject": "Python", **fields})


def test_equivalent_requests_share_one_key() -> None:
    # Given two spellings of the same request
    a = lesson(subject="Python ", topic="Python  Variables ", grade="10")
    b = lesson(subject="python", topic="python variables", grade=" 10")
    # Then they normalise to the same fields and the same key
    assert a.canonical() == b.canonical()
    assert cache_key(a, ALICE) == cache_key(b, BOB)


def test_different_requests_have_different_keys() -> None:
    base = lesson(topic="variables", grade="10")
    others = [
        lesson(topic="loops", grade="10"),
        lesson(topic="variables", grade="11"),
        lesson(topic="variables", grade="10", learning_style="visual"),
        lesson(topic="variables", grade="10", lesson_number=2),
    ]
    keys = {cache_key(r, ALICE) for r in [base, *others]}
    assert len(keys) == 5


def test_key_is_versioned_and_names_the_kind() -> None:
    key = cache_key(lesson(topic="x"), ALICE)
    assert key.startswith("v1-lesson-")
    assert len(key) <= 64


def test_personal_scope_keys_are_per_learner_shared_are_not() -> None:
    personal = lesson(topic="x", scope="personal")
    assert cache_key(personal, ALICE) != cache_key(personal, BOB)
    assert cache_key(lesson(topic="x"), ALICE) == cache_key(lesson(topic="x"), BOB)
    assert personal.scope is Scope.PERSONAL


def test_question_set_count_defaults_so_omitted_and_explicit_default_match() -> None:
    implicit = ContentRequest(kind=Kind.QUESTION_SET, subject="Math", question_type="numeric")  # type: ignore[arg-type]
    explicit = ContentRequest(kind=Kind.QUESTION_SET, subject="math", question_type="numeric", count=5)  # type: ignore[arg-type]
    assert cache_key(implicit, ALICE) == cache_key(explicit, ALICE)


def test_exam_count_defaults_by_exam_type() -> None:
    diagnostic = ContentRequest.model_validate({"kind": "exam", "subject": "Nursing", "exam_type": "diagnostic"})
    practice = ContentRequest.model_validate({"kind": "exam", "subject": "Nursing", "exam_type": "practice"})
    assert (diagnostic.count, practice.count) == (71, 225)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "question_set", "subject": "m"}, "question_set needs question_type"),
        ({"kind": "exam", "subject": "m"}, "exam needs exam_type"),
        ({"kind": "lesson", "subject": "m", "question_type": "numeric"}, "question_type applies only"),
        ({"kind": "lesson", "subject": "m", "count": 3}, "count does not apply to lesson"),
        ({"kind": "question_set", "subject": "m", "question_type": "numeric", "count": 51}, "at most 50"),
        ({"kind": "lesson", "subject": "   "}, "subject"),
        ({"kind": "lesson", "subject": "a\x00b"}, "control characters"),
        ({"kind": "lesson", "subject": "m", "extra": 1}, "Extra inputs"),
        ({"kind": "podcast", "subject": "m"}, "Input should be"),
        ({"kind": "lesson", "subject": "x" * 81}, "at most 80"),
    ],
)
def test_bad_requests_are_rejected_with_a_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ContentRequest.model_validate(fields)
    assert message in str(caught.value)


def test_priority_maps_to_lanes() -> None:
    assert Priority.lane(Priority.PREDICTIVE).value == "interactive"
    assert Priority.lane(Priority.DEFAULT).value == "interactive"
    assert Priority.lane(Priority.WARMING).value == "background"


def test_caller_admin_flag() -> None:
    assert Caller(sub="x", role=Role.ADMIN).is_admin
    assert not Caller(sub="x").is_admin


def test_a_request_read_back_from_a_store_is_not_held_to_the_limit_its_folding_lengthened() -> None:
    from pydantic import ValidationError

    from pregen.domain.courses import CourseRequest
    from pregen.domain.models import STORED

    # Given a grade of 20 characters as sent, which NFKC folding turns into 40 ("ﬀ" is "ff")
    sent = CourseRequest.model_validate({"subject": "Biology", "grade": "\ufb00" * 20})
    assert sent.grade == "ff" * 20
    # When the stored (folded) request is read back, Then it is the same request, not a 400
    stored = sent.model_dump(mode="json")
    assert CourseRequest.model_validate(stored, context=STORED) == sent
    # And a caller who sends the folded text itself is held to the limit
    with pytest.raises(ValidationError, match="at most 20 characters"):
        CourseRequest.model_validate(stored)
