"""warm: called at login, enqueues the warming items of the caller's grade and subjects in the background lane."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from pregen.domain.learner import profile_from_claims
from pregen.domain.warming import default_warming_config
from pregen.http.api import build_resolver, current_caller, json_response
from pregen.http.presenters import warm_body
from pregen.observability import logger, metrics
from pregen.services.warming import resolve_profile, warm
from pregen.wiring.serve import serve_deps

app = build_resolver()


class WarmRequest(BaseModel):
    """Grade and subjects, for tokens that do not carry them. Identity never comes from here."""

    model_config = ConfigDict(extra="forbid")

    grade: str | None = Field(default=None, min_length=1, max_length=20)
    subjects: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None, min_length=1, max_length=20, description="subject ids or names; omitted: all of the grade's"
    )


@app.post(
    "/v1/warm",
    responses={202: {"description": "Accepted: what was queued, joined (in flight) or already cached"}},
)
def post_warm(body: Annotated[WarmRequest | None, Body()] = None) -> Any:
    caller = current_caller(app)  # a token without a subject is refused here (401)
    claims = app.current_event.request_context.authorizer.jwt_claim
    body = body or WarmRequest()
    profile = resolve_profile(profile_from_claims(claims), (body.grade, body.subjects))
    report = warm(
        profile,
        default_warming_config(),
        serve_deps(),
        correlation_id=logger.get_correlation_id(),
        learner=caller,
    )
    metrics.add_metric(name="WarmQueued", unit=MetricUnit.Count, value=report.queued)
    logger.info("warm", learner=caller.sub, source=profile.source, **report.as_dict())
    return json_response(HTTPStatus.ACCEPTED, warm_body(report, profile.source))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
