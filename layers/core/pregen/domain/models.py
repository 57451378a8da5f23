"""Domain models: what a learner can ask for, who is asking, and the jobs that produce content."""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


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
_SPACES = re.compile(r"\s+")


def normalise_text(value: str) -> str:
    """Fold what does not change meaning: Unicode form, case, and runs of white space."""
    folded = unicodedata.normalize("NFKC", value)
    return _SPACES.sub(" ", folded).strip().casefold()


def _reject_control_characters(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise ValueError("must not contain control characters")
    return value


class ContentRequest(BaseModel):
    """What a learner asks for. Equivalent requests normalise to the same fields and so to one cache key."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    kind: Kind
    subject: str = Field(min_length=1, max_length=80)
    topic: str | None = Field(default=None, max_length=120, description="topic or skill")
    grade: str | None = Field(default=None, max_length=20, description="grade or level, e.g. 10 or B1")
    learning_style: LearningStyle | None = None
    question_type: QuestionType | None = None
    exam_type: ExamType | None = None
    lesson_number: int | None = Field(default=None, ge=1, le=1000)
    count: int | None = Field(default=None, ge=1, le=250)
    scope: Scope = Scope.SHARED
    # Language-learning kinds only. Optional and omitted from the key when unset, so every request that was
    # valid before these fields existed keeps its cache key.
    language: str | None = Field(default=None, max_length=40, description="the language being learned, e.g. spanish")
    native_language: str | None = Field(default=None, max_length=40, description="the learner's own language")
    focus: str | None = Field(default=None, max_length=120, description="focus area, e.g. past tense or food")

    @field_validator("subject", "topic", "grade", "language", "native_language", "focus", mode="before")
    @classmethod
    def _normalise(cls, value: Any) -> Any:
        if isinstance(value, str):
            _reject_control_characters(value)
            return normalise_text(value) or None
        return value

    @model_validator(mode="after")
    def _fit_kind(self) -> Self:
        if not self.subject:
            raise ValueError("subject must not be blank")
        problems = self._kind_problems() + self._language_problems() + self._question_set_size_problems()
        if problems:
            raise ValueError("; ".join(problems))
        self._fill_kind_defaults()
        self._fill_language_defaults()
        return self

    def _kind_problems(self) -> list[str]:
        """Fields that the kind needs but lacks, or carries but does not take."""
        kind = self.kind
        rules = (
            (kind is Kind.QUESTION_SET and self.question_type is None, "question_set needs question_type"),
            (kind is Kind.EXAM and self.exam_type is None, "exam needs exam_type"),
            (
                kind is not Kind.QUESTION_SET and self.question_type is not None,
                "question_type applies only to question_set",
            ),
            (kind is not Kind.EXAM and self.exam_type is not None, "exam_type applies only to exam"),
            (kind is not Kind.LESSON and self.lesson_number is not None, "lesson_number applies only to lesson"),
            (kind is Kind.LESSON and self.count is not None, "count does not apply to lesson"),
        )
        return [message for broken, message in rules if broken]

    def _question_set_size_problems(self) -> list[str]:
        if self.kind is Kind.QUESTION_SET and self.count is not None and self.count > 50:
            return ["a question_set holds at most 50 questions"]
        return []

    def _fill_kind_defaults(self) -> None:
        # Fill the defaults in so "count omitted" and "count=5" are the same request and the same key.
        if self.kind is Kind.QUESTION_SET and self.count is None:
            object.__setattr__(self, "count", DEFAULT_QUESTION_SET_SIZE)
        if self.kind is Kind.EXAM and self.count is None and self.exam_type is not None:
            object.__setattr__(self, "count", DEFAULT_EXAM_QUESTIONS[self.exam_type])

    def _language_problems(self) -> list[str]:
        """The language-learning kinds' rules; other kinds must not carry their fields."""
        problems: list[str] = []
        if self.kind not in LANGUAGE_KINDS:
            extra = [name for name in ("language", "native_language", "focus") if getattr(self, name) is not None]
            if extra:
                problems.append(f"{', '.join(extra)} apply only to the language-learning kinds")
            return problems
        if self.kind is Kind.CULTURAL_CONTENT and self.count is not None:
            problems.append("count does not apply to cultural_content")
        if self.count is not None and self.count > 50:
            problems.append(f"a {self.kind.value} holds at most 50 items")
        if self.kind is Kind.CONVERSATION_PRACTICE and self.count is not None and self.count < 2:
            problems.append("a conversation_practice needs at least 2 turns")
        explicit_scope = "scope" in self.model_fields_set
        if self.kind is Kind.PERSONALIZED_EXERCISE and explicit_scope and self.scope is not Scope.PERSONAL:
            problems.append("personalized_exercise is always personal scope")
        return problems

    def _fill_language_defaults(self) -> None:
        if self.kind in DEFAULT_ITEM_COUNTS and self.count is None:
            object.__setattr__(self, "count", DEFAULT_ITEM_COUNTS[self.kind])
        if self.kind is Kind.PERSONALIZED_EXERCISE:
            object.__setattr__(self, "scope", Scope.PERSONAL)  # made for one learner: never shared

    def canonical(self) -> dict[str, Any]:
        """The normalised request as plain data, without empty fields: the input of the cache key."""
        return self.model_dump(mode="json", exclude_none=True)


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
    latency_ms: int = 0
    attempts: int = 1
