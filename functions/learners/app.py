"""learners: a learner's data - the caller's personal items listed page by page, and erased on request."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from pregen.domain.cursors import PATTERN as CURSOR_PATTERN
from pregen.http.api import answer, build_resolver, current_caller, json_response
from pregen.http.presenters import (
    ErasureBody,
    ErasureStatusBody,
    LearnerDataBody,
    erasure_body,
    erasure_status_body,
    learner_data_body,
)
from pregen.observability import logger, metrics
from pregen.services.learners import DEFAULT_PAGE, MAX_PAGE, erasure_status, list_learner_data, request_erasure
from pregen.wiring.cursors import cursor_key
from pregen.wiring.identity import role_claim
from pregen.wiring.learners import learner_data_deps
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
prime(learner_data_deps, cursor_key)  # in init: settings, clients and service models, not in the first request

_ERASED = "Accepted: the learner's data is being erased (done within done_within_seconds); sending it again is harmless"


@app.get("/v1/me/content", responses={200: answer("A page of the caller's personal items", LearnerDataBody)})
def list_my_content(
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=2000,
            pattern=CURSOR_PATTERN,
            description="the previous page's next_cursor (signed for the caller and this listing); any other value "
            "is a 400",
        ),
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description="items per page (fewer only on the last)")
    ] = DEFAULT_PAGE,
) -> Any:
    page = list_learner_data(current_caller(app), cursor, limit, learner_data_deps(), cursor_key=cursor_key())
    return json_response(HTTPStatus.OK, learner_data_body(page))


@app.delete("/v1/me", responses={202: answer(_ERASED, ErasureBody)})
def erase_me() -> Any:
    caller = current_caller(app)
    return _erase(caller.sub)


@app.delete("/v1/learners/<learner>", responses={202: answer(_ERASED + " (admins only)", ErasureBody)})
def erase_learner(learner: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\s/]+$")]) -> Any:
    return _erase(learner)


_STATUS = "The learner's erasure: requested_at, passes done (of 2), erasing or done; 404 when none is on record"


@app.get("/v1/me/erasure", responses={200: answer(_STATUS, ErasureStatusBody)})
def my_erasure() -> Any:
    caller = current_caller(app)
    return _status(caller.sub)


@app.get("/v1/learners/<learner>/erasure", responses={200: answer(_STATUS + " (admins only)", ErasureStatusBody)})
def learner_erasure(learner: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^\s/]+$")]) -> Any:
    return _status(learner)


def _status(learner: str) -> Any:
    found = erasure_status(current_caller(app), learner, learner_data_deps())
    return json_response(HTTPStatus.OK, erasure_status_body(learner, found))


def _erase(learner: str) -> Any:
    accepted = request_erasure(
        current_caller(app), learner, learner_data_deps(), correlation_id=logger.get_correlation_id()
    )
    metrics.add_metric(name="LearnerErasureRequested", unit=MetricUnit.Count, value=1)
    return json_response(HTTPStatus.ACCEPTED, erasure_body(accepted))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
