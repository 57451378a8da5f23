"""analytics: figures for operators (admin role), from counters and queue attributes, never from a scan."""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths

from pregen.domain.models import Role
from pregen.http.api import answer, build_resolver, current_caller, json_response, require_role
from pregen.http.presenters import with_snake_case_names
from pregen.observability import logger, metrics
from pregen.services.analytics import analytics
from pregen.wiring.analytics import analytics_deps
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
prime(analytics_deps)  # in init: settings, clients and service models, not in the first request

_FIGURES = (
    "The figures of the window (see docs/ARCHITECTURE.md, the analytics response). Every name is snake_case, as in "
    "the rest of the API (hit_rate, cost_usd_by_kind, user_stats.users_with_pre_gen). Deprecated: the camelCase "
    "name beside each of them (hitRate, costUsdByKind, ...), the same value, kept for one release; read the "
    "snake_case one."
)
_DAY = r"^\d{4}-\d{2}-\d{2}$"
_WINDOW = (
    "The window is from..to, both days included: from must not be after to, and it spans at most 366 days "
    "(a rule between two parameters, which the schema cannot state). Defaults: the last 7 days to today."
)


@app.get(
    "/v1/analytics",
    responses={200: answer(_FIGURES)},
)
def get_analytics(
    from_: Annotated[
        str | None, Query(alias="from", pattern=_DAY, json_schema_extra={"format": "date"}, description=_WINDOW)
    ] = None,
    to: Annotated[str | None, Query(pattern=_DAY, json_schema_extra={"format": "date"}, description=_WINDOW)] = None,
) -> Any:
    require_role(current_caller(app), Role.ADMIN)
    return json_response(HTTPStatus.OK, with_snake_case_names(analytics(from_, to, analytics_deps())))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
