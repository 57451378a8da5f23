"""Domain models: what a learner can ask for, who is asking, and the jobs that produce content."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pregen.domain.text import PLAIN_NOT_BLANK, canonical_name, check_plain, normalise_text, plain_field


class Kind(StrEnum):
    LESSON = "lesson"
    QUESTION_SET = "question_set"
    EXAM = "exam"
    VOCABULARY_DRILL = "vocabulary_drill"
    GRAMMAR_EXERCISE = "grammar_exercise"
    CULTURAL_CONTENT = "cultural_content"
    PRONUNCIATION_DRILL = "pronunciation_drill"
    CONVERSATION_PRACTICE = "conversation_practice"
    PERSONALIZED_EXERCISE = "personalized_exercise"
    BRAIN_BYTES = "brain_bytes"  # 3-7 short recall cards on one lesson's topic (courses, issue 18)


# Language-learning kinds (the library issue): each holds a counted list of items except cultural_content.
LANGUAGE_KINDS = frozenset(
    {
        Kind.VOCABULARY_DRILL,
        Kind.GRAMMAR_EXERCISE,
        Kind.CULTURAL_CONTENT,
        Kind.PRONUNCIATION_DRILL,
        Kind.CONVERSATION_PRACTICE,
        Kind.PERSONALIZED_EXERCISE,
    }
)
# How many items (words, exercises, turns) a language kind gets when the request does not say.
DEFAULT_ITEM_COUNTS = {
    Kind.VOCABULARY_DRILL: 10,
    Kind.GRAMMAR_EXERCISE: 8,
    Kind.PRONUNCIATION_DRILL: 8,
    Kind.CONVERSATION_PRACTICE: 8,
    Kind.PERSONALIZED_EXERCISE: 5,
    Kind.BRAIN_BYTES: 5,
}


class QuestionType(StrEnum):
    MULTIPLE_CHOICE = "multiple_choice"
    TRUE_FALSE = "true_false"
    NUMERIC = "numeric"
    SHORT_ANSWER = "short_answer"
    FILL_BLANK = "fill_blank"


class ExamType(StrEnum):
    DIAGNOSTIC = "diagnostic"
    PRACTICE = "practice"


class LearningStyle(StrEnum):
    VISUAL = "visual"
    AUDITORY = "auditory"
    READING_WRITING = "reading_writing"
    KINESTHETIC = "kinesthetic"
    # The lesson system's two (issue 17): several modalities at once, and learning by doing.
    MIXED = "mixed"
    HANDS_ON = "hands_on"


class Scope(StrEnum):
    SHARED = "shared"
    PERSONAL = "personal"


class Role(StrEnum):
    STUDENT = "student"
    TEACHER = "teacher"
    ADMIN = "admin"


class Lane(StrEnum):
    """SQS has no priority, so priority is made real by separate queues with their own concurrency."""

    INTERACTIVE = "interactive"
    BACKGROUND = "background"


class Priority:
    """Priorities from the design this replaces; a job at or above INTERACTIVE_FLOOR goes to the interactive lane."""

    PREDICTIVE = 80
    DEFAULT = 50
    WARMING = 30
    INTERACTIVE_FLOOR = 50

    @staticmethod
    def lane(priority: int) -> Lane:
        return Lane.INTERACTIVE if priority >= Priority.INTERACTIVE_FLOOR else Lane.BACKGROUND

    @staticmethod
    def allowed(role: Role, asked: int) -> int:
        """The priority a caller gets: students at most the default (predictive and above is for staff and the
        system's own predictions), teachers and admins what they ask."""
        return min(asked, Priority.DEFAULT) if role is Role.STUDENT else asked


# Question counts an exam gets when the request does not say (the blueprints of the design this replaces).
DEFAULT_EXAM_QUESTIONS = {ExamType.DIAGNOSTIC: 71, ExamType.PRACTICE: 225}
DEFAULT_QUESTION_SET_SIZE = 5

# Fields every kind takes; a kind's shape lists the rest.
_COMMON_FIELDS = frozenset({"kind", "subject", "topic", "grade", "learning_style", "scope"})
_LANGUAGE_FIELDS = frozenset({"language", "native_language", "focus"})


@dataclass(frozen=True)
class KindShape:
    """What a request of one kind carries: the one table both the validator and the API's document read, so the
    document's per-kind schemas (a union discriminated by ``kind``) say exactly what the validator accepts."""

    takes: frozenset[str] = frozenset()  # optional fields besides the common ones
    needs: tuple[str, ...] = ()  # fields the kind must have (also in ``takes``)
    count: tuple[int, int] | None = None  # bounds of ``count`` when the kind takes one
    unit: str = "items"  # what ``count`` counts, for messages
    scope: Scope | None = None  # the only scope the kind allows

    def fields(self) -> frozenset[str]:
        return _COMMON_FIELDS | self.takes


_COUNTED_LANGUAGE = _LANGUAGE_FIELDS | {"count"}
# A course's parts (issue 29) carry the objectives they teach or examine and the language they are written in.
_PART_FIELDS = frozenset({"objectives", "language"})
KIND_SHAPES: dict[Kind, KindShape] = {
    Kind.LESSON: KindShape(takes=frozenset({"lesson_number"}) | _PART_FIELDS),
    Kind.QUESTION_SET: KindShape(
        takes=frozenset({"question_type", "count"}) | _PART_FIELDS,
        needs=("question_type",),
        count=(1, 50),
        unit="questions",
    ),
    Kind.EXAM: KindShape(
        takes=frozenset({"exam_type", "count"}), needs=("exam_type",), count=(1, 250), unit="questions"
    ),
    Kind.VOCABULARY_DRILL: KindShape(takes=_COUNTED_LANGUAGE, count=(1, 50), unit="words"),
    Kind.GRAMMAR_EXERCISE: KindShape(takes=_COUNTED_LANGUAGE, count=(1, 50), unit="exercises"),
    Kind.CULTURAL_CONTENT: KindShape(takes=_LANGUAGE_FIELDS),
    Kind.PRONUNCIATION_DRILL: KindShape(takes=_COUNTED_LANGUAGE, count=(1, 50), unit="items"),
    Kind.CONVERSATION_PRACTICE: KindShape(takes=_COUNTED_LANGUAGE, count=(2, 50), unit="turns"),
    Kind.PERSONALIZED_EXERCISE: KindShape(takes=_COUNTED_LANGUAGE, count=(1, 50), unit="items", scope=Scope.PERSONAL),
    Kind.BRAIN_BYTES: KindShape(takes=frozenset({"lesson_number", "count"}) | _PART_FIELDS, count=(3, 7), unit="cards"),
}
OBJECTIVE_MAX_LENGTH = 200
MAX_REQUEST_OBJECTIVES = 32  # a module's assessment examines all its lessons' objectives (8 lessons x 4)
# Limits of the caller's texts, counted as sent (pregen.domain.text).
TEXT_LIMITS = {"subject": 80, "topic": 120, "grade": 20, "language": 40, "native_language": 40, "focus": 120}
# The texts that name a subject or topic, folded to pregen.domain.text.canonical_name (the others to normalise_text).
NAME_FIELDS = frozenset({"subject", "topic", "focus"})
# The lesson a lesson request without ``lesson_number`` is: the first (the generators' own default).
DEFAULT_LESSON_NUMBER = 1


def _takers(field: str) -> str:
    kinds = [kind for kind, shape in KIND_SHAPES.items() if field in shape.takes]
    if set(kinds) == LANGUAGE_KINDS:
        return "the language-learning kinds"
    return ", ".join(kind.value for kind in kinds)


# One objective as the caller sends it: what ``ContentRequest``'s validator enforces (before folding), stated in
# the schema only (pydantic checks nothing more after the fold).
Objective = Annotated[
    str,
    Field(
        json_schema_extra={"minLength": 1, "maxLength": OBJECTIVE_MAX_LENGTH, "pattern": PLAIN_NOT_BLANK},
    ),
]
# Validation context of a request read back from a store (already folded): ``model_validate(data, context=STORED)``.
STORED: dict[str, Any] = {"stored": True}


def stored_limit(info: ValidationInfo, limit: int) -> int:
    """``limit`` for text as a caller sent it; none for text read back from a store (see ``STORED``)."""
    return 1 << 30 if (info.context or {}).get("stored") else limit


class ContentRequest(BaseModel):
    """What a learner asks for. Equivalent requests normalise to the same fields and so to one cache key.
    Which fields each kind takes and needs, and how many items it may count, depend on the kind."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Kind
    subject: str = plain_field(TEXT_LIMITS["subject"], blank=False)
    topic: str | None = plain_field(TEXT_LIMITS["topic"], default=None, description="topic or skill")
    grade: str | None = plain_field(TEXT_LIMITS["grade"], default=None, description="grade or level, e.g. 10 or B1")
    learning_style: LearningStyle | None = None
    question_type: QuestionType | None = None
    exam_type: ExamType | None = None
    lesson_number: int | None = Field(default=None, ge=1, le=1000)
    count: int | None = Field(default=None, ge=1, le=250)
    scope: Scope = Scope.SHARED
    # Language-learning kinds only. Optional and omitted from the key when unset, so every request that was
    # valid before these fields existed keeps its cache key.
    language: str | None = plain_field(
        TEXT_LIMITS["language"],
        default=None,
        description="the language being learned, e.g. spanish (lessons, brain bytes, question sets: written in)",
    )
    native_language: str | None = plain_field(
        TEXT_LIMITS["native_language"], default=None, description="the learner's own language"
    )
    focus: str | None = plain_field(
        TEXT_LIMITS["focus"], default=None, description="focus area, e.g. past tense or food"
    )

    @field_validator(*TEXT_LIMITS, mode="before")
    @classmethod
    def _normalise(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            # The limit is on the text as the caller sent it; a request read back from a store is already folded
            # (NFKC may have lengthened it), so only its characters are checked again.
            check_plain(value, stored_limit(info, TEXT_LIMITS[str(info.field_name)]))
            fold = canonical_name if info.field_name in NAME_FIELDS else normalise_text
            return fold(value) or None
        return value

    # What a course part teaches or examines, in the planner's order. Part of the key (content written to other
    # objectives is other content); two courses that plan the same lesson with the same objectives share it.
    objectives: list[Objective] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_REQUEST_OBJECTIVES,
        description="lessons, brain bytes, question sets: the objectives the content teaches or examines (one "
        "objective written twice, in any case or spacing, counts once)",
    )

    @field_validator("objectives", mode="before")
    @classmethod
    def _normalise_objectives(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, list | tuple):
            objectives = []
            for item in value:
                if not isinstance(item, str):
                    raise ValueError("each objective must be a string")
                check_plain(item, stored_limit(info, OBJECTIVE_MAX_LENGTH))
                text = normalise_text(item)
                # A blank item is no objective: dropped (API Gateway joins a repeated query parameter with commas,
                # so an objective ending in a comma arrives as two items, the second empty); none left is a 400.
                if text and text not in objectives:  # the same objective twice (as folded) is one
                    objectives.append(text)
            return objectives
        return value

    @model_validator(mode="after")
    def _fit_kind(self) -> Self:
        if not self.subject:
            raise ValueError("subject must not be blank")
        problems = self._shape_problems()
        if problems:
            raise ValueError("; ".join(problems))
        self._fill_defaults()
        return self

    def _shape_problems(self) -> list[str]:
        """Fields the kind needs but lacks, carries but does not take, a count out of its bounds, a wrong scope."""
        kind, shape = self.kind, KIND_SHAPES[self.kind]
        problems = [f"{kind.value} needs {name}" for name in shape.needs if getattr(self, name) is None]
        stray = sorted(n for n in type(self).model_fields if n not in shape.fields() and getattr(self, n) is not None)
        language = [n for n in stray if n in _LANGUAGE_FIELDS]
        if language:
            problems.append(f"{', '.join(language)} apply only to {_takers(language[0])}")
        for name in stray:
            if name == "count":
                problems.append(f"count does not apply to {kind.value}")
            elif name not in _LANGUAGE_FIELDS:
                problems.append(f"{name} applies only to {_takers(name)}")
        if shape.count is not None and self.count is not None:
            low, high = shape.count
            if self.count > high:
                problems.append(f"a {kind.value} holds at most {high} {shape.unit}")
            if self.count < low:
                problems.append(f"a {kind.value} needs at least {low} {shape.unit}")
        explicit_scope = "scope" in self.model_fields_set
        if shape.scope is not None and explicit_scope and self.scope is not shape.scope:
            problems.append(f"{kind.value} is always {shape.scope.value} scope")
        return problems

    def _fill_defaults(self) -> None:
        # Fill the defaults in so "count omitted" and "count=5", "lesson_number omitted" and "lesson_number=1" are
        # the same request and the same key: the defaults live here and nowhere else.
        if self.count is None:
            default = _default_count(self)
            if default is not None:
                object.__setattr__(self, "count", default)
        if self.kind is Kind.LESSON and self.lesson_number is None:
            object.__setattr__(self, "lesson_number", DEFAULT_LESSON_NUMBER)
        shape = KIND_SHAPES[self.kind]
        if shape.scope is not None:
            object.__setattr__(self, "scope", shape.scope)  # e.g. made for one learner: never shared

    def canonical(self) -> dict[str, Any]:
        """The request's one form per meaning, as plain data without empty fields: the input of the cache key.

        Texts are folded (subjects and topics by ``canonical_name``), the kind's defaults filled in; two requests
        that mean the same thing have equal canonical forms. Also what a navigation answer shows of a request it
        prepared, so an app can ask for exactly that. A lesson's default number is left out, as it was before
        lessons had numbers: the lessons cached then keep their keys (KEY_VERSION stays)."""
        form = self.model_dump(mode="json", exclude_none=True)
        if self.kind is Kind.LESSON and self.lesson_number == DEFAULT_LESSON_NUMBER:
            del form["lesson_number"]
        return form


def _default_count(request: ContentRequest) -> int | None:
    if request.kind is Kind.QUESTION_SET:
        return DEFAULT_QUESTION_SET_SIZE
    if request.kind is Kind.EXAM and request.exam_type is not None:
        return DEFAULT_EXAM_QUESTIONS[request.exam_type]
    return DEFAULT_ITEM_COUNTS.get(request.kind)


class Caller(BaseModel):
    """Who is calling, taken from the verified JWT claims, never from the body or query."""

    model_config = ConfigDict(frozen=True)

    sub: str = Field(min_length=1, max_length=256)
    role: Role = Role.STUDENT

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class JobStatus(StrEnum):
    QUEUED = "queued"
    GENERATING = "generating"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class JobRef:
    """A job as its key's in-flight marker names it: what a joined miss answers (its id, status and key), without
    reading the job record."""

    job_id: str
    key: str
    status: JobStatus


class Job(BaseModel):
    """A request to generate one content key, as stored and as shown to its owner."""

    job_id: str
    key: str
    kind: Kind
    status: JobStatus
    request: dict[str, Any]
    owner: str | None = Field(default=None, description="the learner for personal content; None for shared")
    lane: Lane
    priority: int
    created_at: float
    updated_at: float
    attempts: int = 0
    reason: str | None = None
    correlation_id: str | None = None
    regenerate_of: str | None = Field(default=None, description="the version (content_id) this job replaces")
    feedback: str | None = Field(default=None, description="what the model is told about the replaced version")
    model_calls: int = Field(default=0, description="model calls made for this job, across re-asks and deliveries")
    leases: int = Field(default=0, description="deliveries that took the key's lease to generate this job")
    next_attempt_at: float | None = Field(default=None, description="when a failed delivery is tried again")
    history: list[dict[str, Any]] = Field(
        default_factory=list, description="each delivery's attempt: at, outcome, reason, model, calls, tokens, cost"
    )
    # The Message Batch the job was submitted in (``JobStore.record_batch``): read from the record, never written
    # with the job (``put_job``'s item has no ``batch_id``: a claim for a batch requires it absent).
    batch_id: str | None = Field(default=None, exclude=True)

    def visible_to(self, caller: Caller) -> bool:
        return self.owner is None or self.owner == caller.sub or caller.is_admin


class TokenUsage(BaseModel):
    """All four token kinds the Messages API reports; ``input_tokens`` excludes cached tokens."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


class Generation(BaseModel):
    """What a generator returns: a schema-valid body and what it cost to make."""

    body: dict[str, Any]
    generator: Literal["anthropic", "offline"]
    model: str
    usage: TokenUsage = Field(default_factory=TokenUsage)
    cost_usd: float = 0.0
    latency_ms: int = 0  # a direct call's time; a Message Batch's, from submission to the collected result
    attempts: int = 1
    batch: bool = False  # returned through Message Batches: its latency is counted apart from direct calls
