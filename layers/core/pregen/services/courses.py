"""Courses, the learner's side: ask for a course (planned and generated on the lanes), read one, list one's own,
and retry the parts that failed.

::

    POST /v1/courses ─▶ allowance (429 before anything is written) ─▶ course item (planning) + owner index
                     ─▶ plan message to the course's lane ─▶ 202 {course_id, status, parts_total}
    worker: plan (outline cached by request) ─▶ parts (content requests) ─▶ one message per part
            part: cached? reuse : generate on the leased content path ─▶ part done + count (1 transaction)
            last part ─▶ assembly lease ─▶ course checks ─▶ ready   (a part failed for good ─▶ course failed)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pregen.domain.counters import Metric, name
from pregen.domain.course_shares import (
    CLASS_PREFIX,
    Share,
    ShareKind,
    classes_in,
    link_id_of,
    link_opens,
    new_link,
    share_id,
)
from pregen.domain.courses import CourseRecord, CourseStatus, PartRecord, PartStatus
from pregen.domain.cursors import REFUSED, seal, unseal
from pregen.domain.errors import Conflict, Forbidden, InvalidRequest, NotFound
from pregen.domain.keys import new_job_id
from pregen.domain.library import key_of
from pregen.domain.models import STORED, ContentRequest, Priority, Role
from pregen.messages import CoursePlanMessage
from pregen.observability import logger
from pregen.services.limits import check_generation_allowance
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from pregen.config.functions import CoursePolicy
    from pregen.domain.course_shares import ShareRequest
    from pregen.domain.courses import CourseRequest
    from pregen.domain.models import Caller
    from pregen.domain.records import StoredContent
    from pregen.ports import Clock, Counters, CourseStore, JobQueue, LibraryStore
    from pregen.services.limits import GenerationLimiter

_CURSOR = re.compile(r"^\d{13}#[0-9a-f]{32}$")


@dataclass
class CourseDeps:
    courses: CourseStore
    queue: JobQueue
    counters: Counters
    clock: Clock
    policy: CoursePolicy  # how long a course is kept, when to ask again
    limiter: GenerationLimiter | None = None
    # Powertools' idempotency store for Idempotency-Key (a new one per request: it keeps per-request state).
    idempotency: Callable[[], BasePersistenceLayer] | None = None
    # The shared library (content table): a course serves each part's served or pinned version from it.
    library: LibraryStore | None = None


Access = Literal["owner", "class", "link"]


@dataclass(frozen=True)
class CourseView:
    course: CourseRecord
    parts: list[PartRecord]  # with their bodies (the done ones have one)
    access: Access = "owner"  # why the caller may read it
    shares: list[Share] | None = None  # the owner's view only


def start_course(
    request: CourseRequest, caller: Caller, deps: CourseDeps, *, correlation_id: str | None = None
) -> CourseRecord:
    """Accept a course: its lane checked against the caller's role, charged its estimated price (the plan and every
    part it can have, at the direct price in either lane: a batched part that fails falls back to a direct call, and
    the charge is never settled afterwards), and the alignment judgement of each assessment where it is on, before
    anything is written or enqueued, then planned by the worker at the course's priority."""
    priority = course_priority(request, caller, deps.policy)
    judged = deps.policy.course_alignment_judge
    check_generation_allowance(caller, "course", deps, lambda price: price.course(request, judged=judged))
    now = deps.clock.now()
    course = CourseRecord(
        course_id=new_job_id(),
        owner=caller.sub,
        status=CourseStatus.PLANNING,
        request=request,
        priority=priority,
        parts_total=request.parts_total,
        created_at=now,
        updated_at=now,
        expires_at=now + deps.policy.course_ttl_days * 86_400,
    )
    deps.courses.create(course)
    _send_plan(course, deps, correlation_id)
    deps.counters.add(day_of(now), {name(Metric.COURSES_STARTED): 1}, now)
    logger.info("course accepted", course_id=course.course_id, parts_total=course.parts_total)
    return course


def course_priority(request: CourseRequest, caller: Caller, policy: CoursePolicy) -> int:
    """The course's priority, from the lane the caller asked for (or their role's default) within the role's caps:
    background is warming priority (its parts go through Message Batches where they are on); interactive is the
    default priority. A student's course past ``course_student_interactive_parts`` parts goes to the background
    lane when they did not say, and asking the interactive lane for it is a 403."""
    over_cap = caller.role is Role.STUDENT and request.parts_total > policy.course_student_interactive_parts
    if request.lane == "interactive" and over_cap:
        raise Forbidden(
            f"a student's course in the interactive lane has at most {policy.course_student_interactive_parts} "
            f"parts (this one has {request.parts_total}): ask for the background lane, or a smaller course"
        )
    lane = request.lane or ("background" if over_cap else "interactive")
    asked = Priority.WARMING if lane == "background" else Priority.DEFAULT
    return Priority.allowed(caller.role, asked)


def start_course_once(
    request: CourseRequest,
    caller: Caller,
    deps: CourseDeps,
    *,
    idempotency_key: str,
    correlation_id: str | None = None,
    lambda_context: Any = None,
) -> CourseRecord:
    """``start_course`` once per caller and Idempotency-Key (Powertools idempotency, in the exams table): a retried
    POST gets the same course back. The same key with another course request, or while the first is still being
    accepted, is a 409."""
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    if deps.idempotency is None:
        return start_course(request, caller, deps, correlation_id=correlation_id)

    def accept(ask: dict[str, Any]) -> dict[str, Any]:
        course = start_course(request, caller, deps, correlation_id=correlation_id)
        return {"course_id": course.course_id}

    config = IdempotencyConfig(
        event_key_jmespath="[sub, key]",
        payload_validation_jmespath="course",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=deps.policy.idempotency_hours * 3600,
        use_local_cache=False,
    )
    if lambda_context is not None:  # an in-progress record then expires with the invocation, not after an hour
        config.register_lambda_context(lambda_context)
    once = idempotent_function(data_keyword_argument="ask", persistence_store=deps.idempotency(), config=config)
    # The lane asked for is part of the request: the same key with another lane is another request (a 409).
    ask = {"sub": caller.sub, "key": idempotency_key, "course": {**request.canonical(), "lane": request.lane}}
    try:
        accepted = once(accept)(ask=ask)
    except IdempotencyValidationError:
        raise Conflict("this Idempotency-Key was used with a different course request") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("a request with this Idempotency-Key is still being accepted; try again") from None
    course = deps.courses.get(str(accepted["course_id"]))
    if course is None:  # the course expired while its key was remembered: nothing to answer with
        raise NotFound(f"no course {accepted['course_id']}")
    return course


def _send_plan(course: CourseRecord, deps: CourseDeps, correlation_id: str | None) -> None:
    message = CoursePlanMessage(
        course_id=course.course_id,
        owner=course.owner,
        priority=course.priority,
        correlation_id=correlation_id or course.course_id,
    )
    try:
        deps.queue.send(Priority.lane(course.priority), message.wire())
    except Exception:
        # Never leave a course planning with no message that will ever plan it.
        deps.courses.fail(course.course_id, deps.clock.now(), reason="could not enqueue its plan")
        raise


def _own(course_id: str, caller: Caller, deps: CourseDeps) -> CourseRecord:
    course = deps.courses.get(course_id)
    if course is None or course.owner != caller.sub or course.expires_at <= deps.clock.now():
        raise NotFound(f"no course {course_id}")
    return course


def read_course(
    course_id: str, caller: Caller, deps: CourseDeps, *, classes: list[str] | None = None, link: str | None = None
) -> CourseView:
    """A course the caller may read: progress per module and every part done so far with its body (readable as it
    arrives, and what did not fail of a failed course), the checks once ready. Readable by its owner, by a member
    of a class it is shared with (``classes``: the caller's ``class:<id>`` groups), and by a caller holding a live
    link token (``link``). Anyone else: not found (whether it exists is not told)."""
    course, access = _readable(course_id, caller, deps, classes or [], link)
    parts = _live_parts(course_id, deps) if course.status is not CourseStatus.PLANNING else []
    shares = deps.courses.list_shares(course_id) if access == "owner" else None
    return CourseView(course=course, parts=parts, access=access, shares=shares)


def _live_parts(course_id: str, deps: CourseDeps) -> list[PartRecord]:
    """The parts, each done one with the body the course serves: its key's served library version (so a
    regeneration approved or voted up reaches the course), or the version the teacher pinned. One Query of the
    parts without bodies, one BatchGetItem per 100 done parts; only when some content is gone from the library
    (expired), one more Query for the course's own copies."""
    if deps.library is None:
        return deps.courses.read_parts(course_id, bodies=True)
    parts = deps.courses.read_parts(course_id)
    done = [p for p in parts if p.status is PartStatus.DONE]
    found = deps.library.served_bodies([(p.key, p.pinned) for p in done], deps.clock.now())
    # Shared content only (a course's parts are): anything else is served from the course's copy.
    live = {want: content for want, content in found.items() if content.owner is None}
    copies: dict[str, PartRecord] = {}
    if any((p.key, p.pinned) not in live for p in done):
        copies = {p.part_id: p for p in deps.courses.read_parts(course_id, bodies=True)}
    return [_served(part, live.get((part.key, part.pinned)), copies) for part in parts]


def _served(part: PartRecord, content: StoredContent | None, copies: dict[str, PartRecord]) -> PartRecord:
    if part.status is not PartStatus.DONE:
        return part
    if content is None:
        return copies.get(part.part_id, part)
    meta = {**(part.meta or {}), "content_id": content.meta.get("version_id") or part.pinned}
    return replace(part, body=content.body, meta=meta, live=True)


def pin_part(
    course_id: str,
    part_id: str,
    version_id: str | None,
    caller: Caller,
    deps: CourseDeps,
    *,
    classes: list[str] | None = None,
) -> PartRecord:
    """Pin a done part of the caller's course to one version of its content (None: unpin, so it follows its key's
    served version again). 404: no such part, or no live shared version of the part's content by that id (a version
    of other content is not one of the part's); 409: the part is not done yet."""
    _managed(course_id, caller, deps, classes or [])
    part = deps.courses.get_part(course_id, part_id)
    if part is None:
        raise NotFound(f"course {course_id} has no part {part_id}")
    if version_id is not None:
        if key_of(version_id) != part.key:
            raise NotFound(f"part {part_id} has no version {version_id} (it is a version of other content)")
        if part.status is not PartStatus.DONE:
            raise Conflict(f"part {part_id} is {part.status.value}: only a done part can be pinned")
        version = deps.library.get_version(part.key, version_id, deps.clock.now()) if deps.library else None
        if version is None or version.owner is not None:
            raise NotFound(f"no version {version_id}")
    if not deps.courses.pin_part(course_id, part_id, version_id):
        raise NotFound(f"part {part_id} of course {course_id} is not pinned")
    logger.info("course part pinned", course_id=course_id, part_id=part_id, version_id=version_id)
    return replace(part, pinned=version_id)


def _readable(
    course_id: str, caller: Caller, deps: CourseDeps, classes: list[str], link: str | None
) -> tuple[CourseRecord, Access]:
    course = deps.courses.get(course_id)
    if course is None or course.expires_at <= deps.clock.now():
        raise NotFound(f"no course {course_id}")
    if course.owner == caller.sub:
        return course, "owner"
    wanted = [share_id(ShareKind.CLASS, c) for c in classes_in([f"{CLASS_PREFIX}{c}" for c in classes])]
    link_id = link_id_of(link) if link else None
    if link_id is not None:
        wanted.append(share_id(ShareKind.LINK, link_id))
    shares = deps.courses.get_shares(course_id, wanted) if wanted else []
    if any(s.kind is ShareKind.CLASS for s in shares):
        return course, "class"
    if link and any(s.kind is ShareKind.LINK and link_opens(link, s) for s in shares):
        return course, "link"
    raise NotFound(f"no course {course_id}")


def _managed(course_id: str, caller: Caller, deps: CourseDeps, classes: list[str]) -> CourseRecord:
    """The caller's own course, to share or revoke: teachers (and admins) only, 403 for another role before the
    course is read. A member of a class it is shared with is told 403 (they can see it exists); anyone else 404."""
    if caller.role not in (Role.TEACHER, Role.ADMIN):
        raise Forbidden("sharing a course needs the teacher role")
    course, access = _readable(course_id, caller, deps, classes, None)
    if access != "owner":
        raise Forbidden("only the course's owner shares it")
    return course


def share_course(
    course_id: str, caller: Caller, ask: ShareRequest, deps: CourseDeps, *, classes: list[str] | None = None
) -> tuple[Share, str | None]:
    """Share the caller's course with a class, or make a new link: the share, and the link's token (shown once:
    only a hash of its secret is kept)."""
    course = _managed(course_id, caller, deps, classes or [])
    now = deps.clock.now()
    token = None
    if ask.class_id is not None:
        share = Share(share_id(ShareKind.CLASS, ask.class_id), ShareKind.CLASS, now, class_id=ask.class_id)
    else:
        link_id, token, secret_hash = new_link()
        share = Share(share_id(ShareKind.LINK, link_id), ShareKind.LINK, now, secret_hash=secret_hash)
    deps.courses.put_share(course_id, share, course.expires_at, listed_at=course.created_at)
    logger.info("course shared", course_id=course_id, share_id=share.share_id)
    return share, token


def revoke_share(
    course_id: str, share: str, caller: Caller, deps: CourseDeps, *, classes: list[str] | None = None
) -> None:
    """Revoke a share of the caller's course: its class's members, or the link's holders, read it no more."""
    course = _managed(course_id, caller, deps, classes or [])
    if not deps.courses.delete_share(course_id, share, listed_at=course.created_at):
        raise NotFound(f"course {course_id} has no share {share}")
    logger.info("course share revoked", course_id=course_id, share_id=share)


LISTING = "courses"  # the listing's name in its cursors: another listing's cursor is refused here


def list_courses(
    caller: Caller, deps: CourseDeps, *, limit: int, cursor_key: bytes, cursor: str | None = None
) -> tuple[list[CourseRecord], str | None]:
    """The caller's courses, newest first, a page at a time; the next page's cursor (None: the last), signed for
    this caller and this listing. A cursor that is not one of ours is a 400 before the index is read."""
    after = None
    if cursor:
        after = unseal(cursor, key=cursor_key, caller=caller.sub, listing=LISTING)
        if not isinstance(after, str) or not _CURSOR.match(after):  # signed by us: only an older format gets here
            raise InvalidRequest(REFUSED)
    now = deps.clock.now()
    courses, last = deps.courses.list_page(caller.sub, limit, after)
    following = seal(last, key=cursor_key, caller=caller.sub, listing=LISTING) if last else None
    return [c for c in courses if c.expires_at > now], following


SHARED_LISTING = "courses.shared"  # the listing of courses shared with the caller's classes


@dataclass(frozen=True)
class SharedCourse:
    course: CourseRecord
    classes: list[str]  # the caller's classes it is shared with


def list_shared_courses(
    caller: Caller, classes: list[str], deps: CourseDeps, *, limit: int, cursor_key: bytes, cursor: str | None = None
) -> tuple[list[SharedCourse], str | None]:
    """The courses shared with the caller's classes (``class:<id>`` groups, up to 20), newest first, a page at a
    time: one Query per class of its index (merged by position, a course shared with two classes once) and one
    BatchGetItem of the page's courses. The cursor holds each class's position, signed for this caller and this
    listing; a class the caller has left since is dropped, one joined since is listed from the next first page."""
    positions: dict[str, str | None] = dict.fromkeys(classes)
    if cursor:
        sealed = unseal(cursor, key=cursor_key, caller=caller.sub, listing=SHARED_LISTING)
        if not isinstance(sealed, dict) or not all(isinstance(v, str) and _CURSOR.match(v) for v in sealed.values()):
            raise InvalidRequest(REFUSED)
        positions = {c: sealed[c] for c in classes if c in sealed}
    lines: dict[str, list[str]] = {}  # position → the classes it is listed in
    more: set[str] = set()
    for class_id, after in positions.items():
        found, has_more = deps.courses.list_class_page(class_id, limit, after)
        for position, _ in found:
            lines.setdefault(position, []).append(class_id)
        if has_more:
            more.add(class_id)
    page = sorted(lines, reverse=True)[:limit]
    following = None
    if page:
        last = page[-1]
        # A class goes on past the page's last position while it has lines beyond it.
        going = {c: last for c in positions if c in more or any(p < last and c in lines[p] for p in lines)}
        following = seal(going, key=cursor_key, caller=caller.sub, listing=SHARED_LISTING) if going else None
    found_courses = deps.courses.get_many([p.split("#", 1)[1] for p in page])
    now = deps.clock.now()
    shared = []
    for position in page:
        course = found_courses.get(position.split("#", 1)[1])
        if course is not None and course.expires_at > now and course.owner != caller.sub:
            shared.append(SharedCourse(course, sorted(lines[position])))
    return shared, following


def retry_course(
    course_id: str, caller: Caller, deps: CourseDeps, *, correlation_id: str | None = None
) -> CourseRecord:
    """Regenerate only the parts that failed (or plan again, if planning failed). 409 unless the course failed."""
    course = _own(course_id, caller, deps)
    if course.status is not CourseStatus.FAILED:
        raise Conflict(f"course {course_id} is {course.status.value}: only a failed course can be retried")
    failed = [p for p in deps.courses.read_parts(course_id) if p.status is PartStatus.FAILED]
    # The failed parts again, or the whole course if its planning failed (no parts yet).
    check_generation_allowance(
        caller,
        "course_retry",
        deps,
        lambda price: (
            price.contents([ContentRequest.model_validate(p.request, context=STORED) for p in failed])
            if failed
            else price.course(course.request, judged=deps.policy.course_alignment_judge)
        ),
    )
    deps.courses.reset_failed_parts(course_id, {p.part_id: new_job_id() for p in failed})
    now = deps.clock.now()
    if not deps.courses.reopen(course_id, now):
        raise Conflict(f"course {course_id} changed while it was being retried; try again")
    reopened = deps.courses.get(course_id) or course
    # The plan message plans a course that has no outline yet, and sends the pending parts of one that has.
    _send_plan(reopened, deps, correlation_id)
    logger.info("course retried", course_id=course_id, parts=len(failed))
    return reopened
