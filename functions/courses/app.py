"""courses: ask for a whole course, read one's progress or the assembled course, list one's own, retry failed parts,
share one with a class or by a link, and revoke a share."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from pregen.domain.course_shares import LINK_TOKEN, SHARE_ID, ShareRequest, classes_in
from pregen.domain.courses import PART_ID, CourseRequest
from pregen.domain.cursors import PATTERN as CURSOR_PATTERN
from pregen.domain.library import CONTENT_ID
from pregen.http.api import answer, build_resolver, caller_groups, current_caller, json_response
from pregen.http.course_presenters import (
    CourseAcceptedBody,
    CourseBody,
    CoursesBody,
    PinBody,
    ShareCreatedBody,
    ShareRevokedBody,
    course_accepted_body,
    course_body,
    course_location,
    courses_body,
    share_created_body,
)
from pregen.observability import logger, metrics
from pregen.services.courses import (
    list_courses,
    list_shared_courses,
    pin_part,
    read_course,
    retry_course,
    revoke_share,
    share_course,
    start_course,
    start_course_once,
)
from pregen.wiring import snapstart
from pregen.wiring.courses import course_deps
from pregen.wiring.cursors import cursor_key
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
snapstart.register()
prime(course_deps, cursor_key)  # in init: settings, clients and service models, not in the first request

CourseId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
ShareId = Annotated[str, Path(min_length=6, max_length=70, pattern=SHARE_ID)]
PartId = Annotated[str, Path(min_length=14, max_length=20, pattern=PART_ID)]


class PinRequest(BaseModel):
    """The version a part serves from now on (a content id of the part's content, as GET /v1/courses/{course} or
    GET /v1/content/{content_id}/versions shows them)."""

    model_config = ConfigDict(extra="forbid")

    version_id: str = Field(min_length=50, max_length=120, pattern=CONTENT_ID)


_ACCEPTED = "Accepted: the course is planned and generated on the lanes (Location: the course, Retry-After)"


def _accepted(body: CourseAcceptedBody, status: HTTPStatus = HTTPStatus.ACCEPTED) -> Any:
    headers = {
        "Location": course_location(body["course_id"]),
        "Retry-After": str(course_deps().policy.course_retry_after_seconds),
    }
    return json_response(status, body, headers)


@app.post("/v1/courses", responses={202: answer(_ACCEPTED, CourseAcceptedBody)})
def create(
    course: Annotated[CourseRequest, Body()],
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="a retried POST with the same key (and the same body) returns the same course",
        ),
    ] = None,
) -> Any:
    deps = course_deps()
    caller = current_caller(app)
    correlation_id = logger.get_correlation_id()
    if idempotency_key is None:
        accepted = start_course(course, caller, deps, correlation_id=correlation_id)
    else:
        accepted = start_course_once(
            course,
            caller,
            deps,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            lambda_context=app.lambda_context,
        )
    metrics.add_metric(name="CourseAccepted", unit=MetricUnit.Count, value=1)
    return _accepted(course_accepted_body(accepted))


@app.get(
    "/v1/courses",
    responses={200: answer("The caller's courses, or those shared with their classes, newest first", CoursesBody)},
)
def list_own(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    shared: Annotated[
        bool,
        Query(
            description="true: the courses shared with the caller's classes (class:<id> groups of the role claim; "
            "up to 20 classes), each marked shared with those classes; false: the caller's own",
        ),
    ] = False,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=400,
            pattern=CURSOR_PATTERN,
            description="the previous page's next_cursor (signed for the caller and this listing); any other value "
            "is a 400",
        ),
    ] = None,
) -> Any:
    caller = current_caller(app)
    if shared:
        found, following = list_shared_courses(
            caller, _classes(), course_deps(), limit=limit, cursor_key=cursor_key(), cursor=cursor
        )
        by_id = {s.course.course_id: s.classes for s in found}
        body = courses_body([s.course for s in found], following, classes=by_id)
        return json_response(HTTPStatus.OK, body)
    courses, next_cursor = list_courses(caller, course_deps(), limit=limit, cursor_key=cursor_key(), cursor=cursor)
    return json_response(HTTPStatus.OK, courses_body(courses, next_cursor))


@app.get(
    "/v1/courses/<course>",
    responses={
        200: answer(
            "A course the caller may read (theirs, shared with one of their classes, or by the link given):"
            " progress per module, the assembled course once ready",
            CourseBody,
        )
    },
)
def get_course(
    course: CourseId,
    share: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=LINK_TOKEN,
            description="a link token the course's owner made (POST /v1/courses/{course}/shares with link: true)",
        ),
    ] = None,
) -> Any:
    caller = current_caller(app)
    view = read_course(course, caller, course_deps(), classes=_classes(), link=share)
    return json_response(HTTPStatus.OK, course_body(view))


def _classes() -> list[str]:
    """The caller's classes: ``class:<id>`` values of the role claim (the identity provider's groups)."""
    return classes_in(caller_groups(app))


@app.post(
    "/v1/courses/<course>/shares",
    responses={201: answer("Shared: with the class, or by a new link (its token shown this once)", ShareCreatedBody)},
)
def share_with(course: CourseId, ask: Annotated[ShareRequest, Body()]) -> Any:
    shared, token = share_course(course, current_caller(app), ask, course_deps(), classes=_classes())
    return json_response(HTTPStatus.CREATED, share_created_body(course, shared, token))


@app.delete(
    "/v1/courses/<course>/shares/<share>",
    responses={
        200: answer("Revoked: the class's members, or the link's holders, read the course no more", ShareRevokedBody)
    },
)
def revoke(course: CourseId, share: ShareId) -> Any:
    revoke_share(course, share, current_caller(app), course_deps(), classes=_classes())
    return json_response(HTTPStatus.OK, {"course_id": course, "share_id": share, "revoked": True})


@app.put(
    "/v1/courses/<course>/parts/<part>/pin",
    responses={200: answer("Pinned: the part serves this version whatever the library's ranking", PinBody)},
)
def pin(course: CourseId, part: PartId, ask: Annotated[PinRequest, Body()]) -> Any:
    pin_part(course, part, ask.version_id, current_caller(app), course_deps(), classes=_classes())
    return json_response(HTTPStatus.OK, {"course_id": course, "part_id": part, "pinned": ask.version_id})


@app.delete(
    "/v1/courses/<course>/parts/<part>/pin",
    responses={200: answer("Unpinned: the part serves its content's served version again", PinBody)},
)
def unpin(course: CourseId, part: PartId) -> Any:
    pin_part(course, part, None, current_caller(app), course_deps(), classes=_classes())
    return json_response(HTTPStatus.OK, {"course_id": course, "part_id": part, "pinned": None})


@app.post("/v1/courses/<course>/retry", responses={202: answer(_ACCEPTED, CourseAcceptedBody)})
def retry(course: CourseId) -> Any:
    retried = retry_course(course, current_caller(app), course_deps(), correlation_id=logger.get_correlation_id())
    return _accepted(course_accepted_body(retried))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
