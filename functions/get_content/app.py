"""get-content: serve cached content (a hit) or enqueue its generation (a miss); show a job's progress."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from pregen.domain.models import ContentRequest
from pregen.http.api import answer, build_resolver, current_caller, json_response, refuse_unknown_parameters
from pregen.http.caching import CACHE_HEADERS, NOT_MODIFIED, cached_json, if_none_match, served_cacheable
from pregen.http.presenters import (
    AcceptedJobBody,
    ContentBody,
    JobBody,
    accepted_job_body,
    content_body,
    job_body,
    job_location,
)
from pregen.observability import logger, metrics
from pregen.services.content import Hit, job_status, serve_content
from pregen.wiring import snapstart
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import PRIMING_KEY, prime
from pregen.wiring.serve import serve_deps

app = build_resolver(role_claim)
snapstart.register()  # a restored environment draws its own randomness and opens its own connections
prime(lambda: serve_deps().store.get_content(PRIMING_KEY, serve_deps().clock.now()))  # clients, models, connection


@app.get(
    "/v1/content",
    responses={
        200: answer("A cache hit: the content (X-Cache: HIT); ETag: its version", ContentBody, CACHE_HEADERS),
        304: NOT_MODIFIED,
        202: answer("A miss: the job that generates it (Location: the job, Retry-After: seconds)", AcceptedJobBody),
    },
)
def get_content(request: Annotated[ContentRequest, Query()]) -> Any:
    refuse_unknown_parameters(app, ContentRequest.model_fields)
    deps = serve_deps()
    outcome = serve_content(request, current_caller(app), deps, correlation_id=logger.get_correlation_id())
    if isinstance(outcome, Hit):
        # The hit's usage line (printed by serve_content) is also its CacheHit metric, per kind and kind-less
        # (pregen.usage_log): a hit writes that one line at the default level, no EMF blob, no INFO line.
        # A 304 is a hit too: the learner uses the copy they hold (the hit line is already out).
        cacheable = served_cacheable(outcome.content, deps.clock.now())
        response = cached_json(content_body(outcome.content), cacheable, if_none_match(app), {"X-Cache": "HIT"})
        logger.debug("cache hit", key=outcome.key, kind=request.kind.value, status=response.status_code)
        return response
    metrics.add_dimension("kind", request.kind.value)
    # The same blob also files CacheMiss under {service} alone: one series across every kind, for the hit-rate
    # alarm (an alarm's metric math may not exceed 10 metrics, too few for hit and miss per kind).
    metrics.add_dimensions(service=metrics.service or "pregen")
    metrics.add_metric(name="CacheMiss", unit=MetricUnit.Count, value=1)
    logger.info("cache miss", key=outcome.key, job_id=outcome.job.job_id, joined=outcome.joined)
    headers = {
        "X-Cache": "MISS",
        "Location": job_location(outcome.job.job_id),
        "Retry-After": str(deps.retry_after_seconds),
    }
    return json_response(HTTPStatus.ACCEPTED, accepted_job_body(outcome.job, outcome.joined), headers)


@app.get("/v1/jobs/<job_id>", responses={200: answer("The job, with its content once ready", JobBody)})
def get_job(job_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]) -> Any:
    view = job_status(job_id, current_caller(app), serve_deps())
    return json_response(HTTPStatus.OK, job_body(view.job, view.content))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
