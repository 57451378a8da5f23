"""Every kind's schema accepts what the offline generator makes and rejects malformed content."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.codec import MAX_BODY_BYTES, compress, decompress
from pregen.domain.errors import ContentInvalid
from pregen.domain.models import ContentRequest, QuestionType
from pregen.domain.schemas import validate_content

REQUESTS = [
    ContentRequest.model_validate({"kind": "lesson", "subject": "Biology", "topic": "Cells", "grade": "7"}),
    *[
        ContentRequest.model_validate({"kind": "question_set", "subject": "Math", "question_type": q.value, "count": 4})
        for q in QuestionType
    ],
    ContentRequest.model_validate({"kind": "exam", "subject": "Nursing", "exam_type": "diagnostic"}),
    ContentRequest.model_validate({"kind": "exam", "subject": "Nursing", "exam_type": "practice"}),
]


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r.kind}-{r.question_type or r.exam_type or ''}")
def test_offline_content_is_schema_valid_and_deterministic(request_: ContentRequest) -> None:
    generator = OfflineGenerator()
    first = generator.generate(request_)
    assert first.generator == "offline"
    validate_content(request_, first.body)
    assert generator.generate(request_).body == first.body


def test_a_225_question_exam_compresses_far_below_the_item_limit() -> None:
    body = OfflineGenerator().generate(REQUESTS[-1]).body
    packed = compress(body)
    assert len(packed) < MAX_BODY_BYTES / 4
    assert decompress(packed) == body


def _question_set() -> tuple[ContentRequest, dict[str, Any]]:
    request = ContentRequest.model_validate(
        {"kind": "question_set", "subject": "Math", "question_type": "multiple_choice", "count": 3}
    )
    return request, OfflineGenerator().generate(request).body


def _broken(mutate: Any) -> dict[str, Any]:
    _, body = _question_set()
    body = copy.deepcopy(body)
    mutate(body)
    return body


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda b: b["questions"][0].update(answer_index=9), "answer_index"),
        (lambda b: b["questions"][0].update(options=["a", "A ", "b"], answer_index=0), "distinct"),
        (lambda b: b["questions"].pop(), "expected exactly 3"),
        (lambda b: b["questions"][1].update(prompt=b["questions"][0]["prompt"]), "must not repeat"),
        (lambda b: b["questions"][0].pop("explanation"), "explanation"),
        (lambda b: b.update(question_type="numeric"), "question_type must be"),
        (lambda b: b["questions"][0].update(difficulty="impossible"), "difficulty"),
        (lambda b: b.update(surprise=True), "surprise"),
    ],
)
def test_malformed_question_sets_are_rejected(mutate: Any, error: str) -> None:
    request, _ = _question_set()
    with pytest.raises(ContentInvalid) as caught:
        validate_content(request, _broken(mutate))
    assert error in str(caught.value) + " ".join(caught.value.errors)


def test_malformed_lessons_and_exams_are_rejected() -> None:
    lesson_request, exam_request = REQUESTS[0], REQUESTS[-2]
    lesson = OfflineGenerator().generate(lesson_request).body
    with pytest.raises(ContentInvalid):
        validate_content(lesson_request, {**lesson, "sections": []})
    with pytest.raises(ContentInvalid):
        validate_content(lesson_request, {**lesson, "estimated_minutes": 0})
    exam = OfflineGenerator().generate(exam_request).body
    short = copy.deepcopy(exam)
    short["sections"][0]["questions"].pop()
    with pytest.raises(ContentInvalid, match="does not answer"):
        validate_content(exam_request, short)
    with pytest.raises(ContentInvalid):
        validate_content(exam_request, {**exam, "exam_type": "final"})


def test_fill_blank_needs_one_blank_per_answer() -> None:
    request = ContentRequest.model_validate(
        {"kind": "question_set", "subject": "English", "question_type": "fill_blank", "count": 1}
    )
    body = OfflineGenerator().generate(request).body
    body["questions"][0]["answers"] = ["a", "b"]
    with pytest.raises(ContentInvalid, match="schema"):
        validate_content(request, body)
