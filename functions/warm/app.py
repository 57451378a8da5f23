"""warm: called at login, enqueues the warming items of the caller's grade and subjects in the background lane."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pregen.domain.learner import profile_from_claims
from pregen.domain.text import check_plain, plain_field
from pregen.domain.warming import default_warming_config
from pregen.http.api import answer, build_resolver, current_caller, json_response
from pregen.http.presenters import WarmBody, warm_body
from pregen.observability import logger, metrics
from pregen.services.warming import resolve_profile, warm
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime
from pregen.wiring.serve import serve_deps

app = build_resolver(role_claim)
prime(serve_deps)  # in init: settings, clients and service models, not in the first request


class WarmRequest(BaseModel):
    """Grade and subjects, for tokens that do not carry them. Identity never comes from here."""

    model_config = ConfigDict(extra="forbid")

    grade: str | None = plain_field(
        20,
        blank=False,
        default=None,
        description="Needed when the token carries no grade, and then one the warming configuration has (else "
        "400); when the token has a grade, this must equal it. Rules on the token the schema cannot state.",
    )
    subjects: list[Annotated[str, plain_field(80, blank=False)]] | None = Field(
        default=None, min_length=1, max_length=20, description="subject ids or names; omitted: all of the grade's"
    )

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: Any) -> Any:
        return check_plain(value, 20, blank=False) if isinstance(value, str) else value

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects(cls, value: Any) -> Any:
        for subject in value if isinstance(value, list) else []:
            if isinstance(subject, str):
                check_plain(subject, 80, blank=False)
        return value


@app.post(
    "/v1/warm",
    responses={202: answer("Accepted: what was queued, joined (in flight) or already cached", WarmBody)},
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
