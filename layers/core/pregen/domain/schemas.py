"""The pydantic schema every kind of generated content must pass, and the request-specific checks on top."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from pregen.domain.errors import ContentInvalid
from pregen.domain.models import ContentRequest, ExamType, Kind, QuestionType
from pregen.domain.text import normalise_text

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Self


class _Strict(BaseModel):
    # defer_build: a worker builds the validator of a kind when it first generates that kind (cold start).
    model_config = ConfigDict(extra="forbid", defer_build=True)


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
    language: str | None = Field(default=None, max_length=40, description="the language it is written in")


class _QuestionBase(_Strict):
    prompt: str = Field(min_length=1)
    explanation: str = Field(min_length=1)
    difficulty: Literal["easy", "medium", "hard"]
    domain: str | None = None
    objective: str | None = Field(default=None, max_length=200, description="the objective the question examines")


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
    language: str | None = Field(default=None, max_length=40, description="the language it is written in")


class ExamSection(_Strict):
    domain: str = Field(min_length=1)
    questions: list[Question] = Field(min_length=1)


class Exam(_Strict):
    title: str = Field(min_length=1)
    exam_type: Literal["diagnostic", "practice"]
    instructions: str = Field(min_length=1)
    sections: list[ExamSection] = Field(min_length=1)


# -- language-learning kinds -------------------------------------------------------------------------------------
# Each carries its level, the topics it covers and the focus areas it trains, and says how long it takes.


class _LanguageContent(_Strict):
    title: str = Field(min_length=1, max_length=200)
    level: str = Field(min_length=1, max_length=20, description="CEFR level (A1-C2) or grade")
    topics: list[str] = Field(min_length=1, max_length=10)
    focus_areas: list[str] = Field(min_length=1, max_length=10)
    estimated_minutes: int = Field(ge=1, le=240)


class VocabularyItem(_Strict):
    term: str = Field(min_length=1, max_length=120)
    translation: str = Field(min_length=1, max_length=200)
    part_of_speech: str = Field(min_length=1, max_length=30)
    example: str = Field(min_length=1, max_length=400, description="a sentence that uses the term")

    @model_validator(mode="after")
    def _example_uses_term(self) -> Self:
        if self.term.strip().casefold() not in self.example.casefold():
            raise ValueError("the example must use the term")
        return self


class VocabularyDrill(_LanguageContent):
    language: str = Field(min_length=1, max_length=40)
    items: list[VocabularyItem] = Field(min_length=1, max_length=50)


class GapExercise(_Strict):
    prompt: str = Field(min_length=1, max_length=400, description="a sentence with one ___ per answer")
    answers: list[str] = Field(min_length=1)
    explanation: str = Field(min_length=1, max_length=600)

    @model_validator(mode="after")
    def _one_answer_per_blank(self) -> Self:
        blanks = self.prompt.count("___")
        if blanks == 0 or blanks != len(self.answers):
            raise ValueError("the prompt needs one ___ per answer")
        return self


class GrammarExercise(_LanguageContent):
    grammar_point: str = Field(min_length=1, max_length=120)
    explanation: str = Field(min_length=1, max_length=3000)
    exercises: list[GapExercise] = Field(min_length=1, max_length=50)


class CulturalContent(_LanguageContent):
    summary: str = Field(min_length=1, max_length=1000)
    sections: list[LessonSection] = Field(min_length=1, max_length=12)
    key_terms: list[str] = Field(default_factory=list, max_length=30)
    discussion_questions: list[str] = Field(min_length=1, max_length=10)


class PronunciationItem(_Strict):
    text: str = Field(min_length=1, max_length=200)
    ipa: str = Field(min_length=1, max_length=200, description="the pronunciation in IPA")
    tip: str = Field(min_length=1, max_length=400)
    minimal_pair: str | None = Field(default=None, max_length=200, description="a word that differs by one sound")

    @model_validator(mode="after")
    def _pair_differs(self) -> Self:
        if self.minimal_pair is not None and self.minimal_pair.strip().casefold() == self.text.strip().casefold():
            raise ValueError("a minimal pair must differ from the text")
        return self


class PronunciationDrill(_LanguageContent):
    language: str = Field(min_length=1, max_length=40)
    items: list[PronunciationItem] = Field(min_length=1, max_length=50)


class ConversationTurn(_Strict):
    speaker: str = Field(min_length=1, max_length=60)
    text: str = Field(min_length=1, max_length=600)
    translation: str | None = Field(default=None, max_length=600)


class ConversationPractice(_LanguageContent):
    scenario: str = Field(min_length=1, max_length=600)
    roles: list[str] = Field(min_length=2, max_length=4)
    turns: list[ConversationTurn] = Field(min_length=2, max_length=50)
    useful_phrases: list[str] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _speakers_have_roles(self) -> Self:
        if len({r.strip().casefold() for r in self.roles}) != len(self.roles):
            raise ValueError("roles must be distinct")
        roles = {r.strip().casefold() for r in self.roles}
        strangers = sorted({t.speaker for t in self.turns if t.speaker.strip().casefold() not in roles})
        if strangers:
            raise ValueError(f"turns spoken by someone without a role: {strangers[:3]}")
        return self


class PersonalExercise(_Strict):
    skill: str = Field(min_length=1, max_length=120)
    prompt: str = Field(min_length=1, max_length=600)
    answer: str = Field(min_length=1, max_length=600)
    explanation: str = Field(min_length=1, max_length=600)
    difficulty: Literal["easy", "medium", "hard"]


class PersonalizedExercise(_LanguageContent):
    instructions: str = Field(min_length=1, max_length=1000)
    exercises: list[PersonalExercise] = Field(min_length=1, max_length=50)


# -- brain bytes (courses): short recall cards on one lesson's topic --------------------------------------------------


class BrainByte(_Strict):
    front: str = Field(min_length=1, max_length=200, description="a question or cue to recall from")
    back: str = Field(min_length=1, max_length=400, description="the answer, in a sentence or two")


class BrainBytes(_Strict):
    title: str = Field(min_length=1, max_length=200)
    cards: list[BrainByte] = Field(min_length=3, max_length=7)
    language: str | None = Field(default=None, max_length=40, description="the language it is written in")


SCHEMAS: dict[Kind, type[BaseModel]] = {
    Kind.LESSON: Lesson,
    Kind.QUESTION_SET: QuestionSet,
    Kind.EXAM: Exam,
    Kind.VOCABULARY_DRILL: VocabularyDrill,
    Kind.GRAMMAR_EXERCISE: GrammarExercise,
    Kind.CULTURAL_CONTENT: CulturalContent,
    Kind.PRONUNCIATION_DRILL: PronunciationDrill,
    Kind.CONVERSATION_PRACTICE: ConversationPractice,
    Kind.PERSONALIZED_EXERCISE: PersonalizedExercise,
    Kind.BRAIN_BYTES: BrainBytes,
}


def counted_items(content: BaseModel) -> list[Any] | None:
    """The list a language kind's ``count`` refers to (words, exercises, turns), or None for other kinds."""
    for name in ("items", "exercises", "turns"):
        if isinstance(content, _LanguageContent) and hasattr(content, name):
            return list(getattr(content, name))
    return None


def _item_text(item: Any) -> str:
    for name in ("term", "prompt", "text"):
        if hasattr(item, name):
            return str(getattr(item, name))
    return repr(item)


def schema_for(kind: Kind) -> type[BaseModel]:
    return SCHEMAS[kind]


# -- the schema sent to the model: the kind's, narrowed to one request ----------------------------------------------
# The validator below stays the final word; these make a schema-following model's first answer valid wherever
# JSON Schema can say what the validator checks: exact counts, the question type, the exam type, the language.
# What it cannot say (a whole exam's total across its sections, an example that uses its term, no repeats) is
# still checked afterwards and re-asked.

QUESTION_CLASSES: dict[QuestionType, type[BaseModel]] = {
    QuestionType.MULTIPLE_CHOICE: MultipleChoice,
    QuestionType.TRUE_FALSE: TrueFalse,
    QuestionType.NUMERIC: Numeric,
    QuestionType.SHORT_ANSWER: ShortAnswer,
    QuestionType.FILL_BLANK: FillBlank,
}
# The list a language kind's ``count`` counts, and its item's schema.
COUNTED_LISTS: dict[Kind, tuple[str, type[BaseModel]]] = {
    Kind.VOCABULARY_DRILL: ("items", VocabularyItem),
    Kind.GRAMMAR_EXERCISE: ("exercises", GapExercise),
    Kind.PRONUNCIATION_DRILL: ("items", PronunciationItem),
    Kind.CONVERSATION_PRACTICE: ("turns", ConversationTurn),
    Kind.PERSONALIZED_EXERCISE: ("exercises", PersonalExercise),
}


def _const(value: str) -> Any:
    return Literal[value]  # a one-value Literal: the schema's "const"


def _exactly(item: Any, count: int | None) -> tuple[Any, Any]:
    return list[item], Field(min_length=count or 1, max_length=count) if count else Field(min_length=1)


def answer_schema(request: ContentRequest) -> type[BaseModel]:
    """The kind's schema with this request's constraints: what the model is sent as its output format."""
    objectives = tuple(request.objectives) if request.objectives else None
    return _narrowed(
        request.kind, request.question_type, request.exam_type, request.count, request.language, objectives=objectives
    )


@functools.lru_cache(maxsize=512)
def _narrowed(
    kind: Kind,
    question_type: QuestionType | None,
    exam_type: ExamType | None,
    count: int | None,
    language: str | None,
    *,
    objectives: tuple[str, ...] | None = None,
) -> type[BaseModel]:
    base = SCHEMAS[kind]
    fields: dict[str, Any] = {}
    if kind is Kind.QUESTION_SET and question_type is not None:
        fields["question_type"] = (_const(question_type.value), ...)
        fields["questions"] = _exactly(_examining(QUESTION_CLASSES[question_type], objectives), count)
    if kind is Kind.LESSON and objectives:
        # Exactly the planned objectives (each once: the check below), in the words the request gives them.
        fields["objectives"] = _exactly(_one_of(objectives), len(objectives))
    if kind is Kind.EXAM and exam_type is not None:
        fields["exam_type"] = (_const(exam_type.value), ...)
    if kind in COUNTED_LISTS and count is not None:
        name, item = COUNTED_LISTS[kind]
        fields[name] = _exactly(item, count)
    if kind is Kind.BRAIN_BYTES and count is not None:
        fields["cards"] = _exactly(BrainByte, count)
    if language is not None and "language" in base.model_fields:
        fields["language"] = (_const(language), ...)
    if not fields:
        return base
    # Same name as the kind's schema: the model (and the fake provider) sees one title per kind.
    return create_model(base.__name__, __base__=base, __module__=__name__, **fields)


def _one_of(values: tuple[str, ...]) -> Any:
    return Literal[values]  # the schema's "enum"


def _examining(question: type[BaseModel], objectives: tuple[str, ...] | None) -> type[BaseModel]:
    """A question that must name which of ``objectives`` it examines (unchanged without objectives)."""
    if not objectives:
        return question
    return create_model(question.__name__, __base__=question, __module__=__name__, objective=(_one_of(objectives), ...))


def section_schema(domain: str, count: int, question_types: Iterable[QuestionType]) -> type[BaseModel]:
    """An exam section's schema: its domain, its exact size, only its question types (a ``SectionSpec``'s
    fields, passed one by one so the content schemas know nothing of programs)."""
    return _section(domain, count, tuple(sorted(question_types)))


@functools.lru_cache(maxsize=256)
def _section(domain: str, count: int, types: tuple[QuestionType, ...]) -> type[BaseModel]:
    classes = tuple(QUESTION_CLASSES[t] for t in types)
    question: Any = classes[0] if len(classes) == 1 else Annotated[_union(classes), Field(discriminator="type")]
    return create_model(
        "ExamSection",
        __base__=ExamSection,
        __module__=__name__,
        domain=(_const(domain), ...),
        questions=_exactly(question, count),
    )


def _union(classes: tuple[type[BaseModel], ...]) -> Any:
    union: Any = classes[0]
    for cls in classes[1:]:
        union = union | cls
    return union


def _language_problems(request: ContentRequest, content: BaseModel) -> list[str]:
    problems: list[str] = []
    items = counted_items(content)
    if items is not None:
        if request.count is not None and len(items) != request.count:
            problems.append(f"expected exactly {request.count} items, got {len(items)}")
        texts = [_item_text(i).strip().casefold() for i in items]
        if not isinstance(content, ConversationPractice) and len(set(texts)) != len(texts):
            problems.append("items must not repeat")
    language = getattr(content, "language", None)
    if request.language and isinstance(language, str) and language.strip().casefold() != request.language:
        problems.append(f"language must be {request.language}")
    return problems


def _card_problems(request: ContentRequest, content: BrainBytes) -> list[str]:
    problems: list[str] = []
    fronts = [card.front.strip().casefold() for card in content.cards]
    if request.count is not None and len(fronts) != request.count:
        problems.append(f"expected exactly {request.count} cards, got {len(fronts)}")
    if len(set(fronts)) != len(fronts):
        problems.append("cards must not repeat")
    return problems


def _objective_problems(objectives: list[str], content: BaseModel, questions: list[Any]) -> list[str]:
    """A lesson lists every objective it was asked to teach; a question set's questions each name one of its
    objectives, and every objective is examined when there are at least as many questions as objectives."""
    wanted = {normalise_text(o) for o in objectives}
    if isinstance(content, Lesson):
        missing = sorted(wanted - {normalise_text(o) for o in content.objectives})
        return [f"the lesson's objectives must include: {missing[:5]}"] if missing else []
    if not isinstance(content, QuestionSet):
        return []
    named = [normalise_text(q.objective or "") for q in questions]
    problems = []
    stray = [i for i, objective in enumerate(named) if objective not in wanted]
    if stray:
        problems.append(f"questions {stray[:5]} must name one of the objectives as their objective")
    unexamined = sorted(wanted - set(named))
    if unexamined and len(questions) >= len(wanted):
        problems.append(f"no question examines: {unexamined[:5]}")
    return problems


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
    problems += _language_problems(request, content)
    if isinstance(content, BrainBytes):
        problems += _card_problems(request, content)
    if request.objectives:
        problems += _objective_problems(request.objectives, content, questions)
    return problems + _question_problems(request, questions)


def _question_problems(request: ContentRequest, questions: list[Any]) -> list[str]:
    if not questions:
        return []
    problems = []
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
