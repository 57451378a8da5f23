"""How courses look on the wire (kept beside ``presenters.py`` so the two grow apart without colliding): each body a
TypedDict that the routes name as their answer, so the OpenAPI document states the same shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from pregen.domain.course_shares import share_body
from pregen.domain.courses import CourseLane, CourseStatus, PartKind, PartStatus
from pregen.domain.models import Priority

if TYPE_CHECKING:
    from pregen.domain.course_shares import Share
    from pregen.domain.courses import CourseRecord, PartRecord
    from pregen.services.courses import CourseView

# "partial": failed for good with some parts done (served; a retry regenerates the rest).
Status = Literal["planning", "generating", "ready", "partial", "failed"]


class PartCounts(TypedDict):
    total: int
    done: int
    failed: int


class FailedPartBody(TypedDict):
    part_id: str
    kind: PartKind
    reason: str


class PartContentBody(TypedDict):
    """A done part: the version it serves (``content_id``, a version of the shared library: its key's served version,
    so regenerations and approvals reach the course, unless ``pinned``), whether the course reused it, and its body.
    ``served_from``: ``library`` (that version), or ``course_copy`` when the library no longer holds it (the copy
    the course kept when the part was done)."""

    content_id: str | None
    key: str
    reused: bool
    pinned: bool
    served_from: Literal["library", "course_copy"]
    content: dict[str, Any]


class PinBody(TypedDict):
    """A part's pin: the version it serves whatever the library's ranking (null: its key's served version)."""

    course_id: str
    part_id: str
    pinned: str | None


class LessonBody(TypedDict):
    lesson: int
    title: str
    objectives: list[str]
    from_library: NotRequired[str]  # the key of the library lesson the planner chose for this place
    content: NotRequired[PartContentBody]
    brain_bytes: NotRequired[PartContentBody]


class ModuleBody(TypedDict):
    module: int
    title: str | None
    summary: NotRequired[str]
    parts: PartCounts
    failed: list[FailedPartBody]
    lessons: NotRequired[list[LessonBody]]
    assessment: NotRequired[PartContentBody]
    estimated_minutes: NotRequired[int]


class MisalignedBody(TypedDict):
    """A question the alignment judgement found not to examine the objective it names."""

    part_id: str
    question: int  # 1-based, in its assessment
    objective: str
    why: str


class CheckBody(TypedDict):
    name: str
    passed: bool
    detail: str
    judged: NotRequired[bool]  # false: a judgement not made (off, or it failed; the detail says why), not scored
    score: NotRequired[float]  # objectives_aligned: the share of questions aligned
    misaligned: NotRequired[list[MisalignedBody]]


class ValidationBody(TypedDict):
    score: float
    checks: list[CheckBody]
    estimated_minutes: int


class CourseSummaryBody(TypedDict):
    course_id: str
    status: Status
    title: str
    parts: PartCounts
    created_at: int
    ready_at: NotRequired[int]


class LibraryReuseBody(TypedDict):
    """Catalogue-aware planning: library lessons offered to the planner, chosen by it (reused by design), and
    reuse keys it named that were not offered (planned as new lessons). A course planned from a cached outline
    reports ``chosen`` only."""

    offered: NotRequired[int]
    chosen: int
    ignored: NotRequired[int]


class ShareBody(TypedDict):
    share_id: str  # class-<id> or link-<link id>: DELETE /v1/courses/{course}/shares/{share} revokes it
    kind: Literal["class", "link"]
    created_at: int
    class_id: NotRequired[str]


class ShareCreatedBody(ShareBody):
    course_id: str
    token: NotRequired[str]  # a link's, shown once (only a hash of it is kept): GET /v1/courses/{id}?share=<token>


class ShareRevokedBody(TypedDict):
    course_id: str
    share_id: str
    revoked: bool


class CourseBody(CourseSummaryBody):
    request: dict[str, Any]
    updated_at: int
    expires_at: int
    reason: NotRequired[str]
    description: NotRequired[str]
    modules: list[ModuleBody]
    validation: NotRequired[ValidationBody]
    figures: NotRequired[dict[str, Any]]
    library: NotRequired[LibraryReuseBody]
    access: Literal["owner", "class", "link"]  # why the caller may read it
    shares: NotRequired[list[ShareBody]]  # the owner's view only


class CourseAcceptedBody(TypedDict):
    course_id: str
    status: Status
    parts_total: int
    lane: Annotated[CourseLane, Field(description="the lane its parts are generated in (asked for, or the default)")]


class CourseListItemBody(CourseSummaryBody):
    """A course in a listing: ``shared`` false for the caller's own; true (with the caller's ``classes`` it is
    shared with) in ``GET /v1/courses?shared=true``."""

    shared: bool
    classes: NotRequired[list[str]]


class CoursesBody(TypedDict):
    """A page of courses in the listings' one envelope, ``{items, next_cursor}``: the caller's own, or with
    ``shared=true`` those shared with the caller's classes."""

    items: list[CourseListItemBody]
    next_cursor: str | None
    courses: Annotated[
        list[CourseListItemBody],
        Field(
            deprecated=True,
            description="Deprecated alias of `items` (the same list), kept for one release: read `items`.",
        ),
    ]


def course_location(course_id: str) -> str:
    return f"/v1/courses/{course_id}"


def course_accepted_body(course: CourseRecord) -> CourseAcceptedBody:
    lane: CourseLane = Priority.lane(course.priority).value  # type: ignore[assignment]
    return {"course_id": course.course_id, "status": _status(course), "parts_total": course.parts_total, "lane": lane}


def _status(course: CourseRecord) -> Status:
    if course.status is CourseStatus.FAILED and course.parts_done:
        return "partial"
    value: Status = course.status.value  # type: ignore[assignment]
    return value


def _counts(course: CourseRecord) -> PartCounts:
    return {"total": course.parts_total, "done": course.parts_done, "failed": course.parts_failed}


def course_summary_body(course: CourseRecord) -> CourseSummaryBody:
    body: CourseSummaryBody = {
        "course_id": course.course_id,
        "status": _status(course),
        "title": course.title,
        "parts": _counts(course),
        "created_at": int(course.created_at),
    }
    if course.ready_at is not None:
        body["ready_at"] = int(course.ready_at)
    return body


def courses_body(
    courses: list[CourseRecord], next_cursor: str | None, *, classes: dict[str, list[str]] | None = None
) -> CoursesBody:
    """``classes``: a listing of shared courses, by course id the caller's classes each is shared with."""
    items: list[CourseListItemBody] = []
    for course in courses:
        item: CourseListItemBody = {**course_summary_body(course), "shared": classes is not None}  # type: ignore[typeddict-item]
        if classes is not None:
            item["classes"] = classes.get(course.course_id, [])
        items.append(item)
    return {"items": items, "next_cursor": next_cursor, "courses": items}


def _content(part: PartRecord) -> PartContentBody:
    meta = part.meta or {}
    return {
        "content_id": meta.get("content_id"),
        "key": part.key,
        "reused": bool(part.reused),
        "pinned": part.pinned is not None,
        "served_from": "library" if part.live else "course_copy",
        "content": part.body or {},
    }


def _module(course: CourseRecord, number: int, parts: list[PartRecord]) -> ModuleBody:
    outline = (course.outline or {}).get("modules") or []
    planned = outline[number - 1] if number - 1 < len(outline) else {}
    module: ModuleBody = {
        "module": number,
        "title": planned.get("title"),
        "parts": {
            "total": len(parts),
            "done": sum(p.status is PartStatus.DONE for p in parts),
            "failed": sum(p.status is PartStatus.FAILED for p in parts),
        },
        "failed": [
            {"part_id": p.part_id, "kind": p.kind, "reason": p.reason or "failed"}
            for p in parts
            if p.status is PartStatus.FAILED
        ],
    }
    if course.request.include.summaries and planned.get("summary"):
        module["summary"] = str(planned["summary"])
    if course.status is CourseStatus.PLANNING:
        return module
    # Each part as soon as it is done (validated on its own): a course is readable as it arrives.
    by_id = {p.part_id: p for p in parts if p.status is PartStatus.DONE}
    lessons: list[LessonBody] = []
    for n, lesson in enumerate(planned.get("lessons") or [], start=1):
        body: LessonBody = {"lesson": n, "title": lesson["title"], "objectives": list(lesson["objectives"])}
        if lesson.get("reuse_key"):
            body["from_library"] = str(lesson["reuse_key"])
        content = by_id.get(f"m{number:02d}-l{n:02d}-{PartKind.LESSON.value}")
        cards = by_id.get(f"m{number:02d}-l{n:02d}-{PartKind.BRAIN_BYTES.value}")
        if content is not None:
            body["content"] = _content(content)
        if cards is not None:
            body["brain_bytes"] = _content(cards)
        lessons.append(body)
    module["lessons"] = lessons
    assessment = by_id.get(f"m{number:02d}-{PartKind.ASSESSMENT.value}")
    if assessment is not None:
        module["assessment"] = _content(assessment)
    minutes = (course.validation or {}).get("minutes_by_module") or []
    if number - 1 < len(minutes):
        module["estimated_minutes"] = int(minutes[number - 1])
    return module


def course_body(view: CourseView) -> CourseBody:
    """Progress per module, and every part done so far (modules → lessons with their content ids and bodies,
    assessment, brain bytes, summary) while generating, when ready, and when some parts failed for good (each
    failed part listed with its reason); the checks and figures when ready."""
    course = view.course
    body: CourseBody = {
        **course_summary_body(course),  # type: ignore[typeddict-item]
        "request": course.request.canonical(),
        "updated_at": int(course.updated_at),
        "expires_at": int(course.expires_at),
        "modules": [
            _module(course, m, [p for p in view.parts if p.module == m]) for m in range(1, course.request.modules + 1)
        ],
    }
    body["access"] = view.access
    if view.shares is not None:
        body["shares"] = [share_body(s) for s in view.shares]  # type: ignore[misc]
    if course.reason:
        body["reason"] = course.reason
    if course.outline and course.outline.get("description"):
        body["description"] = str(course.outline["description"])
    if course.validation is not None:
        body["validation"] = {
            "score": float(course.validation.get("score", 0)),
            "checks": list(course.validation.get("checks", [])),
            "estimated_minutes": int(course.validation.get("minutes_total", 0)),
        }
    if course.figures is not None:
        body["figures"] = course.figures
    reuse = (course.plan or {}).get("library")
    if reuse:
        library: LibraryReuseBody = {"chosen": int(reuse.get("chosen", 0))}
        for name in ("offered", "ignored"):
            if name in reuse:
                library[name] = int(reuse[name])  # type: ignore[literal-required]
        body["library"] = library
    return body


def share_created_body(course_id: str, share: Share, token: str | None) -> ShareCreatedBody:
    body: ShareCreatedBody = {"course_id": course_id, **share_body(share)}  # type: ignore[typeddict-item]
    if token is not None:
        body["token"] = token
    return body
