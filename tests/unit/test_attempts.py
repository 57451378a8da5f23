"""Student-safe exams and their grading (pregen.domain.attempts): what a student sees, and how answers are graded."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pregen.domain.attempts import ATTEMPT_KEEP_DAYS, grade, sees_answers, student_exam, student_meta
from pregen.domain.errors import InvalidRequest
from pregen.domain.models import Role
from pregen.domain.schemas import Exam

NOW = 1_000_000.0

EXAM: dict[str, Any] = {
    "title": "Mixed",
    "exam_type": "practice",
    "instructions": "Answer everything.",
    "sections": [
        {
            "domain": "Numbers",
            "questions": [
                {
                    "type": "multiple_choice",
                    "prompt": "2 + 2?",
                    "options": ["3", "4", "5"],
                    "answer_index": 1,
                    "explanation": "Two and two make four.",
                    "difficulty": "easy",
                },
                {
                    "type": "numeric",
                    "prompt": "pi to two places?",
                    "answer": 3.14,
                    "tolerance": 0.01,
                    "unit": "rad",
                    "explanation": "pi is 3.14159...",
                    "difficulty": "medium",
                },
            ],
        },
        {
            "domain": "Words",
            "questions": [
                {
                    "type": "true_false",
                    "prompt": "The sky is green.",
                    "answer": False,
                    "explanation": "It is blue.",
                    "difficulty": "easy",
                },
                {
                    "type": "short_answer",
                    "prompt": "Why do leaves fall?",
                    "sample_answer": "Trees drop them to save water in winter.",
                    "keywords": ["water", "winter"],
                    "explanation": "Deciduous trees shed leaves.",
                    "difficulty": "hard",
                },
                {
                    "type": "fill_blank",
                    "prompt": "The ___ sat on the ___.",
                    "answers": ["cat", "mat"],
                    "explanation": "A rhyme.",
                    "difficulty": "easy",
                },
            ],
        },
    ],
}


def test_the_sample_exam_is_a_valid_exam() -> None:
    Exam.model_validate(EXAM)  # the grading below is of an exam the schema accepts


def test_a_student_sees_questions_without_answers_explanations_or_figures() -> None:
    shown = student_exam(EXAM)
    text = json.dumps(shown)
    for secret in ("answer_index", "answer", "explanation", "sample_answer", "keywords", "tolerance"):
        assert f'"{secret}"' not in text
    assert "Two and two make four" not in text
    # ...but everything needed to answer: prompts, options, units, each section's domain, in order
    assert [s["domain"] for s in shown["sections"]] == ["Numbers", "Words"]
    assert shown["sections"][0]["questions"][0] == {
        "type": "multiple_choice",
        "prompt": "2 + 2?",
        "difficulty": "easy",
        "options": ["3", "4", "5"],
    }
    assert shown["sections"][0]["questions"][1]["unit"] == "rad"
    assert EXAM["sections"][0]["questions"][0]["answer_index"] == 1  # the stored body is left alone
    meta = {"program": "eppp", "questions": 5, "cost_usd": 0.2, "model": "claude", "correlation_id": "c-1"}
    assert student_meta(meta) == {"program": "eppp", "questions": 5}


@pytest.mark.parametrize(("role", "full"), [(Role.STUDENT, False), (Role.TEACHER, True), (Role.ADMIN, True)])
def test_teachers_and_admins_see_answers(role: Role, full: bool) -> None:
    assert sees_answers(role) is full


def test_answers_are_graded_per_question_type() -> None:
    attempt = grade("e1", "practice", EXAM, [1, 3.145, True, "They save WATER over   winter", ["Cat", "hat"]], now=NOW)
    assert [r.correct for r in attempt.results] == [True, True, False, True, False]
    assert (attempt.correct, attempt.total, attempt.percent) == (3, 5, 60.0)
    assert [r.answer for r in attempt.results] == [
        1,
        3.14,
        False,
        EXAM["sections"][1]["questions"][1]["sample_answer"],
        ["cat", "mat"],
    ]
    assert attempt.results[0].explanation == "Two and two make four."
    assert [r.domain for r in attempt.results] == ["Numbers", "Numbers", "Words", "Words", "Words"]
    assert attempt.expires_at == NOW + ATTEMPT_KEEP_DAYS * 86_400


def test_an_unanswered_question_is_wrong_not_refused() -> None:
    attempt = grade("e1", "practice", EXAM, [None] * 5, now=NOW)
    assert attempt.correct == 0
    assert attempt.total == 5


@pytest.mark.parametrize(
    ("answers", "names"),
    [
        ([1, 3.14, False, "water winter"], "5 questions, 4 answers"),
        ([1, 3.14, False, "water winter", ["cat", "mat"], 0], "5 questions, 6 answers"),
        ([3, 3.14, False, "x", ["cat", "mat"]], "answers[0]: option index 3 is out of range"),
        ([-1, 3.14, False, "x", ["cat", "mat"]], "answers[0]: option index -1 is out of range"),
        (["4", 3.14, False, "x", ["cat", "mat"]], "answers[0]: a multiple-choice answer is the index"),
        ([True, 3.14, False, "x", ["cat", "mat"]], "answers[0]: a multiple-choice answer is the index"),
        ([1, "3.14", False, "x", ["cat", "mat"]], "answers[1]: a numeric answer is a number"),
        ([1, 3.14, 0, "x", ["cat", "mat"]], "answers[2]: a true/false answer"),
        ([1, 3.14, False, 7, ["cat", "mat"]], "answers[3]: a short answer is a text"),
        ([1, 3.14, False, "x", ["cat"]], "answers[4]: the question has 2 blank(s), the answer fills 1"),
        ([1, 3.14, False, "x", "cat mat"], "answers[4]: a fill-in-the-blank answer is a list"),
    ],
)
def test_answers_that_do_not_fit_are_refused_naming_the_answer(answers: list[Any], names: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(names)):
        grade("e1", "practice", EXAM, answers, now=NOW)
