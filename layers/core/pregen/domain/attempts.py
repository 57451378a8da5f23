"""Student-safe exams and graded attempts (issue 31, item 4).

A student reads an exam without what would give it away: each question keeps only the fields needed to answer it
(``STUDENT_FIELDS``), and ``meta`` only the exam's shape (``STUDENT_META``), never cost, model or correlation ids.
Teachers and admins read the whole exam.

A student submits one answer per question, in the exam's order (sections in order, their questions in order); the
server grades it against the stored exam and keeps the graded attempt. Answers by question type:

- ``multiple_choice``: the index of the chosen option (0-based); ``true_false``: true or false;
- ``numeric``: a number, right within the question's tolerance; ``short_answer``: text, right when it holds every
  keyword (case and spacing ignored); ``fill_blank``: one text per blank, each right ignoring case and spacing;
- ``null``: not answered (graded wrong).

An answer of the wrong shape (a text for a multiple-choice question, an index past the options, a wrong number of
blanks) or an answer count that is not the exam's question count is a 400 naming the answer; nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pregen.domain.errors import InvalidRequest
from pregen.domain.models import Role

ATTEMPT_KEEP_DAYS = 365  # a graded attempt is the learner's record of the exam: kept a year (erased with them)

# What a student sees of a question, per type: enough to answer it, nothing that gives the answer away.
_COMMON = ("type", "prompt", "difficulty", "domain", "objective")
STUDENT_FIELDS: dict[str, tuple[str, ...]] = {
    "multiple_choice": (*_COMMON, "options"),
    "true_false": _COMMON,
    "numeric": (*_COMMON, "unit"),
    "short_answer": _COMMON,
    "fill_blank": _COMMON,
}
STUDENT_META = ("program", "exam_type", "sections", "questions")


def sees_answers(role: Role) -> bool:
    """Teachers and admins read answers and explanations; students do not."""
    return role in {Role.TEACHER, Role.ADMIN}


def student_question(question: dict[str, Any]) -> dict[str, Any]:
    shown = STUDENT_FIELDS.get(str(question.get("type")), _COMMON)
    return {name: question[name] for name in shown if question.get(name) is not None}


def student_exam(body: dict[str, Any]) -> dict[str, Any]:
    """The exam body without answers or explanations (a copy: the stored body is left alone)."""
    sections = [
        {**section, "questions": [student_question(q) for q in section.get("questions", [])]}
        for section in body.get("sections", [])
    ]
    return {**body, "sections": sections}


def student_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {name: meta[name] for name in STUDENT_META if name in meta}


def questions_of(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every question of an exam in answer order, with its section's domain."""
    return [(str(s.get("domain", "")), q) for s in body.get("sections", []) for q in s.get("questions", [])]


@dataclass(frozen=True)
class QuestionResult:
    index: int
    domain: str
    correct: bool
    given: Any
    answer: Any  # the right answer, as the question type's answers are given
    explanation: str


@dataclass(frozen=True)
class Attempt:
    exam_id: str
    exam_type: str
    submitted_at: float
    expires_at: float
    results: list[QuestionResult]

    @property
    def correct(self) -> int:
        return sum(1 for r in self.results if r.correct)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def percent(self) -> float:
        return round(100 * self.correct / self.total, 1) if self.total else 0.0


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def _refuse(index: int, why: str) -> InvalidRequest:
    return InvalidRequest(f"answers[{index}]: {why}")


def _multiple_choice(index: int, question: dict[str, Any], given: Any) -> tuple[bool, Any]:
    right = int(question["answer_index"])
    if given is None:
        return False, right
    options = len(question.get("options", []))
    if isinstance(given, bool) or not isinstance(given, int):
        raise _refuse(index, "a multiple-choice answer is the index of an option (an integer)")
    if not 0 <= given < options:
        raise _refuse(index, f"option index {given} is out of range: the question has options 0 to {options - 1}")
    return given == right, right


def _true_false(index: int, question: dict[str, Any], given: Any) -> tuple[bool, Any]:
    truth = bool(question["answer"])
    if given is not None and not isinstance(given, bool):
        raise _refuse(index, "a true/false answer is true or false")
    return given is truth, truth


def _numeric(index: int, question: dict[str, Any], given: Any) -> tuple[bool, Any]:
    value = float(question["answer"])
    if given is None:
        return False, value
    if isinstance(given, bool) or not isinstance(given, int | float):
        raise _refuse(index, "a numeric answer is a number")
    return abs(float(given) - value) <= float(question.get("tolerance", 0.0)), value


def _short_answer(index: int, question: dict[str, Any], given: Any) -> tuple[bool, Any]:
    sample = str(question["sample_answer"])
    if given is None:
        return False, sample
    if not isinstance(given, str) or len(given) > 2000:
        raise _refuse(index, "a short answer is a text of at most 2000 characters")
    text = _folded(given)
    return all(_folded(str(k)) in text for k in question.get("keywords", [])), sample


def _fill_blank(index: int, question: dict[str, Any], given: Any) -> tuple[bool, Any]:
    blanks = [str(a) for a in question["answers"]]
    if given is None:
        return False, blanks
    if not (isinstance(given, list) and all(isinstance(g, str) and len(g) <= 200 for g in given)):
        raise _refuse(index, "a fill-in-the-blank answer is a list of texts, one per blank")
    if len(given) != len(blanks):
        raise _refuse(index, f"the question has {len(blanks)} blank(s), the answer fills {len(given)}")
    return all(_folded(g) == _folded(b) for g, b in zip(given, blanks, strict=True)), blanks


# Each grader: whether ``given`` answers the question rightly, and the right answer; InvalidRequest for a wrong shape.
_GRADERS = {
    "multiple_choice": _multiple_choice,
    "true_false": _true_false,
    "numeric": _numeric,
    "short_answer": _short_answer,
    "fill_blank": _fill_blank,
}


def _grade_one(index: int, question: dict[str, Any], given: Any) -> tuple[bool, Any]:
    grader = _GRADERS.get(str(question.get("type")))
    if grader is None:
        raise _refuse(index, f"question type {question.get('type')!r} cannot be graded")
    return grader(index, question, given)


def grade(exam_id: str, exam_type: str, body: dict[str, Any], answers: list[Any], *, now: float) -> Attempt:
    """The graded attempt of ``answers`` (one per question, in order) against the exam ``body``."""
    questions = questions_of(body)
    if len(answers) != len(questions):
        raise InvalidRequest(f"answers: the exam has {len(questions)} questions, {len(answers)} answers were sent")
    results = []
    for index, ((domain, question), given) in enumerate(zip(questions, answers, strict=True)):
        correct, right = _grade_one(index, question, given)
        results.append(
            QuestionResult(
                index=index,
                domain=domain,
                correct=correct,
                given=given,
                answer=right,
                explanation=str(question.get("explanation", "")),
            )
        )
    return Attempt(
        exam_id=exam_id,
        exam_type=exam_type,
        submitted_at=now,
        expires_at=now + ATTEMPT_KEEP_DAYS * 86_400,
        results=results,
    )
