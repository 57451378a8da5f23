"""analytics: figures for operators (admin role), from counters and queue attributes, never from a scan."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths

from pregen.domain.models import Role
from pregen.http.api import build_resolver, current_caller, json_response, require_role
from pregen.observability import logger, metrics
from pregen.services.analytics import analytics
from pregen.wiring.analytics import analytics_deps

app = build_resolver()

_DAY = r"^\d{4}-\d{2}-\d{2}$"


@app.get("/v1/analytics")
def get_analytics(
    from_: Annotated[str | None, Query(alias="from", pattern=_DAY)] = None,
    to: Annotated[str | None, Query(pattern=_DAY)] = None,
) -> Any:
    require_role(current_caller(app), Role.ADMIN)
    return json_response(HTTPStatus.OK, analytics(from_, to, analytics_deps()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
