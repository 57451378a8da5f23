"""The pydantic schema every kind of generated content must pass, and the request-specific checks on top."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pregen.errors import ContentInvalid
from pregen.models import ContentRequest, Kind, QuestionType

if TYPE_CHECKING:
    from typing import Self


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LessonSection(_Strict):
    heading: str = Field(min_length=1)
    body: str = Field(min_length=1)


class Lesson(_Strict):
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    objectives: list[str] = Field(min_length=1)
    sections: list[LessonSection] = Field(min_length=1)
    key_terms: list[str] = Field(default_factory=list)
    estimated_minutes: int = Field(ge=1, le=240)


class _QuestionBase(_Strict):
    prompt: str = Field(min_length=1)
    explanation: str = Field(min_length=1)
    difficulty: Literal["easy", "medium", "hard"]
    domain: str | None = None


class MultipleChoice(_QuestionBase):
    type: Literal["multiple_choice"]
    options: list[str] = Field(min_length=2, max_length=6)
    answer_index: int = Field(ge=0)

    @model_validator(mode="after")
    def _answer_is_an_option(self) -> Self:
        if self.answer_index >= len(self.options):
            raise ValueError("answer_index must point at one of the options")
        if len({o.strip().casefold() for o in self.options}) != len(self.options):
            raise ValueError("options must be distinct")
        return self


class TrueFalse(_QuestionBase):
    type: Literal["true_false"]
    answer: bool


class Numeric(_QuestionBase):
    type: Literal["numeric"]
    answer: float
    tolerance: float = Field(default=0.0, ge=0)
    unit: str | None = None


class ShortAnswer(_QuestionBase):
    type: Literal["short_answer"]
    sample_answer: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)


class FillBlank(_QuestionBase):
    type: Literal["fill_blank"]
    answers: list[str] = Field(min_length=1, description="one answer per ___ in the prompt, in order")

    @model_validator(mode="after")
    def _one_answer_per_blank(self) -> Self:
        blanks = self.prompt.count("___")
        if blanks == 0 or blanks != len(self.answers):
            raise ValueError("the prompt needs one ___ per answer")
        return self


Question = Annotated[MultipleChoice | TrueFalse | Numeric | ShortAnswer | FillBlank, Field(discriminator="type")]


class QuestionSet(_Strict):
    title: str = Field(min_length=1)
    question_type: QuestionType
    questions: list[Question] = Field(min_length=1)


class ExamSection(_Strict):
    domain: str = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)


class Exam(_Strict):
    title: str = Field(min_length=1)
    exam_type: Literal["diagnostic", "practice"]
    instructions: str = Field(min_length=1)
    sections: list[ExamSection] = Field(min_length=1)


SCHEMAS: dict[Kind, type[BaseModel]] = {Kind.LESSON: Lesson, Kind.QUESTION_SET: QuestionSet, Kind.EXAM: Exam}


def schema_for(kind: Kind) -> type[BaseModel]:
    return SCHEMAS[kind]


def request_problems(request: ContentRequest, content: BaseModel) -> list[str]:
    """What a schema cannot know: does the content answer *this* request (count, type, no duplicates)?"""
    problems: list[str] = []
    questions: list[Any] = []
    if isinstance(content, QuestionSet):
        questions = list(content.questions)
        if content.question_type != request.question_type:
            problems.append(f"question_type must be {request.question_type}")
        wrong = [i for i, q in enumerate(questions) if q.type != request.question_type]
        if wrong:
            problems.append(f"questions {wrong[:5]} are not of type {request.question_type}")
    elif isinstance(content, Exam):
        questions = [q for section in content.sections for q in section.questions]
        if request.exam_type is not None and content.exam_type != request.exam_type.value:
            problems.append(f"exam_type must be {request.exam_type}")
    if questions:
        if request.count is not None and len(questions) != request.count:
            problems.append(f"expected exactly {request.count} questions, got {len(questions)}")
        prompts = [q.prompt.strip().casefold() for q in questions]
        if len(set(prompts)) != len(prompts):
            problems.append("questions must not repeat")
    return problems


def validate_content(request: ContentRequest, body: dict[str, Any]) -> BaseModel:
    """Validate a body against its kind's schema and the request; raise ContentInvalid with every error."""
    try:
        content = schema_for(request.kind).model_validate(body)
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ContentInvalid("content does not match its schema", errors) from exc
    problems = request_problems(request, content)
    if problems:
        raise ContentInvalid("content does not answer the request", problems)
    return content
