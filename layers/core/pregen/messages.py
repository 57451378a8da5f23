"""The queue messages, defined once for both sides: producers serialise them with ``wire()``, the worker parses any
body with ``parse_message``.

Both kinds share the lanes, told apart by ``type``. Content-job messages written before this union have no
``type``: a body without one is a content job, so messages already in a queue (or a dead-letter queue, or a
Message Batch's entries) stay readable.

::

    {"type": "content_job", "job_id": ..., "key": ..., "request": {...}, ...}     → JobMessage
    {"job_id": ..., "key": ..., "request": {...}, ...}   (no "type": older)       → JobMessage
    {"type": "exam_section", "owner": ..., "spec": {...}, ...}                    → SectionMessage
    {"type": "course_plan", "course_id": ..., ...}                                → CoursePlanMessage
    {"type": "course_part", "course_id": ..., "part_id": ..., ...}                → CoursePartMessage
    {"type": "learner_erase", "learner": ..., "pass_number": 1, ...}              → EraseMessage
    {"type": "course_judgement", "course_id": ..., "part_id": ..., ...}           → JudgementMessage
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, PlainSerializer, PlainValidator, Tag, TypeAdapter

if TYPE_CHECKING:
    from pregen.domain.programs import SectionSpec

CONTENT_JOB: Final = "content_job"
EXAM_SECTION: Final = "exam_section"
COURSE_PLAN: Final = "course_plan"
COURSE_PART: Final = "course_part"
LEARNER_ERASE: Final = "learner_erase"
COURSE_JUDGEMENT: Final = "course_judgement"


def _section_spec(value: Any) -> SectionSpec:
    # The exam machinery (programs, blueprints) loads with the first section message a container parses, never
    # for a content job: the worker's cold start stays that of lessons and quizzes.
    from pregen.domain.programs import SectionSpec

    return value if isinstance(value, SectionSpec) else SectionSpec.model_validate(value)


def _section_spec_json(spec: SectionSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


if TYPE_CHECKING:
    LazySectionSpec = SectionSpec
else:
    # Validated and serialised by SectionSpec itself, imported only when a section message is parsed.
    LazySectionSpec = Annotated[Any, PlainValidator(_section_spec), PlainSerializer(_section_spec_json)]


class _Message(BaseModel):
    def wire(self) -> dict[str, Any]:
        """The body to send: JSON-ready, the same shape ``parse_message`` reads back."""
        return self.model_dump(mode="json")


class JobMessage(_Message):
    """A content job, as get-content, pre-generate and the library send it (and the worker re-sends it)."""

    type: Literal["content_job"] = CONTENT_JOB
    job_id: str
    key: str
    request: dict[str, Any]
    owner: str | None = None
    priority: int = 50
    correlation_id: str | None = None
    regenerate_of: str | None = None  # a library regeneration: a new version of a key that already has content
    feedback: str | None = None
    throttle_retries: int = 0  # times the provider's throttling delayed this job (see defer_throttled)
    direct: bool = False  # generate with a direct call even in the background lane (a batch fallback)
    requested_by: str | None = None  # the learner whose request created the job: their cost counter
    # When the job was created (its record's created_at): a first delivery needs no read of the record for it
    # (``services.generation``); None in messages sent before it was carried.
    created_at: float | None = None
    # A background course's part submitted to a Message Batch: its collection finishes the part (course_generation).
    course_id: str | None = None
    part_id: str | None = None
    # A job promoted to the interactive lane while in a Message Batch: that batch, asked first whether it has
    # ended with the job's answer (``services.batches.collect_promoted``) before any model call.
    batch_id: str | None = None

    @property
    def entry_id(self) -> str:
        """The job's id as one entry of a Message Batch (an exam section's: ``SectionMessage.entry_id``)."""
        return self.job_id


class SectionMessage(_Message):
    """One section of one exam to generate, as the exam inventory's top-up sends it."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["exam_section"] = EXAM_SECTION
    owner: str
    spec: LazySectionSpec
    priority: int = 30
    correlation_id: str | None = None
    direct: bool = False  # generate with a direct call even in the background lane (its Message Batch fell back)

    @property
    def entry_id(self) -> str:
        """The section's id as one entry of a Message Batch (a content job's is its job id)."""
        return f"{self.spec.exam_id}-s{self.spec.index:03d}"


class CoursePlanMessage(_Message):
    """Plan a course (or, once planned, send its pending parts): as POST /v1/courses and its retry send it."""

    type: Literal["course_plan"] = COURSE_PLAN
    course_id: str
    owner: str
    priority: int = 50
    correlation_id: str | None = None
    waits: int = 0  # times it was put back because another course was planning the same outline


class CoursePartMessage(_Message):
    """One part of a course: an ordinary content request, generated (or found cached) and added to the course."""

    type: Literal["course_part"] = COURSE_PART
    course_id: str
    owner: str
    part_id: str
    job_id: str
    key: str
    request: dict[str, Any]
    priority: int = 50
    correlation_id: str | None = None
    waits: int = 0  # times it was put back because another job was generating its key
    direct: bool = False  # generate with a direct call even in the background lane (a Message Batch fell back)


class JudgementMessage(_Message):
    """A background course's alignment judgement of one assessment (``pregen.services.course_alignment``): a
    Message Batch entry, or (``direct``: its batch result failed) one direct call."""

    type: Literal["course_judgement"] = COURSE_JUDGEMENT
    course_id: str
    owner: str
    part_id: str
    questions: list[dict[str, Any]]  # the assessment as the judge reads it (``domain.courses.judged_questions``)
    objectives: list[str]
    priority: int = 30
    correlation_id: str | None = None
    direct: bool = False  # judge with a direct call (its Message Batch result failed or was invalid)

    @property
    def entry_id(self) -> str:
        """The judgement's id as one entry of a Message Batch."""
        return f"{self.course_id}-{self.part_id}-judgement"


class EraseMessage(_Message):
    """Erase one learner's data: a pass at once, and a second after any generation in flight has ended, which
    deletes again what the first found (a job record an in-flight generation rewrote) and what appeared since."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["learner_erase"] = LEARNER_ERASE
    learner: str
    pass_number: int = 1
    requested_at: float
    requested_by: str
    job_ids: list[str] = []  # found by the first pass
    keys: list[str] = []  # personal content keys found by the first pass
    correlation_id: str | None = None


def message_type(body: Any) -> str:
    """The union's tag: the body's ``type``, and a content job when it has none (messages older than the tag)."""
    tag = body.get("type") if isinstance(body, dict) else getattr(body, "type", None)
    return str(tag or CONTENT_JOB)


QueueMessage = Annotated[
    Annotated[JobMessage, Tag(CONTENT_JOB)]
    | Annotated[SectionMessage, Tag(EXAM_SECTION)]
    | Annotated[CoursePlanMessage, Tag(COURSE_PLAN)]
    | Annotated[CoursePartMessage, Tag(COURSE_PART)]
    | Annotated[EraseMessage, Tag(LEARNER_ERASE)]
    | Annotated[JudgementMessage, Tag(COURSE_JUDGEMENT)],
    Discriminator(message_type),
]
AnyMessage = JobMessage | SectionMessage | CoursePlanMessage | CoursePartMessage | EraseMessage | JudgementMessage
_QUEUE_MESSAGE: TypeAdapter[AnyMessage] = TypeAdapter(QueueMessage)


def parse_message(body: dict[str, Any]) -> AnyMessage:
    """The message a queue body holds. Raises ``pydantic.ValidationError`` (a ``ValueError``) if it holds none."""
    return _QUEUE_MESSAGE.validate_python(body)
