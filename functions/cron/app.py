"""cron: the scheduled jobs (EventBridge Scheduler), and an admin-only HTTP trigger for operators.

This first version reports what is queued per lane; inventory top-up and warming arrive with their issues.
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from pregen.api import build_resolver, current_caller, json_response, require_role
from pregen.models import Role
from pregen.observability import logger, metrics
from pregen.services.schedules import ScheduleEvent, run_schedule
from pregen.wiring import cron_deps

app = build_resolver()


@app.post("/v1/ops/cron/<task>")
def trigger(task: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]) -> Any:
    require_role(current_caller(app), Role.ADMIN)
    summary = run_schedule(ScheduleEvent(task=task), cron_deps())
    return json_response(HTTPStatus.OK, summary)


@app.post("/v1/cron/run")
def run_top_up() -> Any:
    """The issue's ops trigger for the inventory top-up: an admin JWT. (A cron-secret bearer is not built: it
    needs a route without the JWT authorizer; see docs/ARCHITECTURE.md.)"""
    require_role(current_caller(app), Role.ADMIN)
    summary = run_schedule(ScheduleEvent(task="inventory_topup"), cron_deps())
    return json_response(HTTPStatus.OK, summary)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "requestContext" in event:  # the guarded HTTP trigger
        return app.resolve(event, context)
    summary = run_schedule(ScheduleEvent.model_validate(event), cron_deps())
    logger.info("schedule ran", **summary)
    return summary
