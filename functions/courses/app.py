"""courses: ask for a whole course, read one's progress or the assembled course, list one's own, retry failed parts."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from pregen.domain.courses import CourseRequest
from pregen.domain.cursors import PATTERN as CURSOR_PATTERN
from pregen.http.api import answer, build_resolver, current_caller, json_response
from pregen.http.course_presenters import (
    CourseAcceptedBody,
    CourseBody,
    CoursesBody,
    course_accepted_body,
    course_body,
    course_location,
    courses_body,
)
from pregen.observability import logger, metrics
from pregen.services.courses import list_courses, read_course, retry_course, start_course, start_course_once
from pregen.wiring import snapstart
from pregen.wiring.courses import course_deps
from pregen.wiring.cursors import cursor_key
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
snapstart.register()
prime(course_deps, cursor_key)  # in init: settings, clients and service models, not in the first request

CourseId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
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


@app.get("/v1/courses", responses={200: answer("The caller's courses, newest first", CoursesBody)})
def list_own(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
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
    courses, next_cursor = list_courses(caller, course_deps(), limit=limit, cursor_key=cursor_key(), cursor=cursor)
    return json_response(HTTPStatus.OK, courses_body(courses, next_cursor))


@app.get(
    "/v1/courses/<course>",
    responses={200: answer("The caller's course: progress per module, the assembled course once ready", CourseBody)},
)
def get_course(course: CourseId) -> Any:
    return json_response(HTTPStatus.OK, course_body(read_course(course, current_caller(app), course_deps())))


@app.post("/v1/courses/<course>/retry", responses={202: answer(_ACCEPTED, CourseAcceptedBody)})
def retry(course: CourseId) -> Any:
    retried = retry_course(course, current_caller(app), course_deps(), correlation_id=logger.get_correlation_id())
    return _accepted(course_accepted_body(retried))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
