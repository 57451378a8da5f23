"""pre-generate: enqueue a batch of content requests at a priority, skipping keys cached or already in flight."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, field_validator

from pregen.domain.models import ContentRequest, Priority
from pregen.http.api import answer, build_resolver, current_caller, json_integer, json_response
from pregen.http.presenters import PregenerateBody, pregenerate_body
from pregen.observability import logger, metrics
from pregen.services.content import pregenerate
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime
from pregen.wiring.serve import serve_deps

app = build_resolver(role_claim)
prime(serve_deps)  # in init: settings, clients and service models, not in the first request


class PregenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 400 naming it, not silently dropped

    priority: int = Field(
        default=Priority.DEFAULT,
        ge=0,
        le=100,
        description="80 predictive, 50 default, 30 warming; students are capped at 50",
    )
    requests: list[ContentRequest] = Field(min_length=1, max_length=100)

    @field_validator("priority", mode="before")
    @classmethod
    def _priority(cls, value: Any) -> Any:
        return json_integer(value)

    @field_validator("requests", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        for request in value if isinstance(value, list) else []:
            for name in ("count", "lesson_number"):
                if isinstance(request, dict) and request.get(name) is not None:
                    json_integer(request[name])
        return value


@app.post(
    "/v1/pregenerate",
    responses={202: answer("Accepted: per request, queued, in flight (joined) or already cached", PregenerateBody)},
)
def post_pregenerate(batch: Annotated[PregenerateRequest, Body()]) -> Any:
    caller = current_caller(app)
    priority = Priority.allowed(caller.role, batch.priority)
    results = pregenerate(batch.requests, priority, caller, serve_deps(), correlation_id=logger.get_correlation_id())
    queued = sum(1 for r in results if r.status == "queued")
    metrics.add_metric(name="Pregenerated", unit=MetricUnit.Count, value=queued)
    logger.info("pregenerate", requested=len(results), queued=queued, priority=priority)
    return json_response(HTTPStatus.ACCEPTED, pregenerate_body(priority, results))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
