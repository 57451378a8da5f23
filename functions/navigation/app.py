"""navigation: records a learner's move and pre-generates what they are likely to need next (interactive lane)."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from pregen.domain.learner import grade_for
from pregen.http.api import answer, build_resolver, current_caller, json_response
from pregen.http.presenters import NavigationBody, navigation_body
from pregen.observability import logger, metrics
from pregen.services.navigation import NavigationEvent, record_navigation
from pregen.wiring.identity import role_claim
from pregen.wiring.navigation import navigation_deps
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
prime(navigation_deps)  # in init: settings, clients and service models, not in the first request


@app.post(
    "/v1/events/navigation",
    responses={202: answer("Recorded; the predicted items pre-generated in the interactive lane", NavigationBody)},
)
def post_navigation(event: Annotated[NavigationEvent, Body()]) -> Any:
    caller = current_caller(app)
    grade = grade_for(app.current_event.request_context.authorizer.jwt_claim, event.grade)
    outcome = record_navigation(event, grade, caller, navigation_deps(), correlation_id=logger.get_correlation_id())
    queued = sum(p.queued for p in outcome.preloads)
    metrics.add_metric(name="PredictiveQueued", unit=MetricUnit.Count, value=queued)
    logger.info("navigation", learner=caller.sub, move=outcome.recorded, queued=queued)
    return json_response(HTTPStatus.ACCEPTED, navigation_body(outcome, grade))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
