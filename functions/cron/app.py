"""cron: the scheduled jobs (EventBridge Scheduler), and an admin-only HTTP trigger for operators.

Tasks: queue report, Message Batches collection, inventory top-up (and its resume), warming every grade.
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths

from pregen.domain.models import Role
from pregen.http.api import answer, build_resolver, current_caller, json_response, require_role
from pregen.http.trigger_auth import authorize_trigger
from pregen.observability import logger, metrics
from pregen.services.schedules import ScheduleEvent, Task, run_schedule
from pregen.wiring.cron import cron_deps, trigger_settings
from pregen.wiring.priming import prime

app = build_resolver()
prime(cron_deps)  # in init: settings, clients and service models, not in the first request


@app.post("/v1/ops/cron/<task>", responses={200: answer("The task's summary")})
def trigger(task: Annotated[Task, Path(description="one of the scheduled tasks")]) -> Any:
    require_role(current_caller(app), Role.ADMIN)
    summary = run_schedule(ScheduleEvent(task=task), cron_deps())
    return json_response(HTTPStatus.OK, summary)


@app.post("/v1/cron/run", responses={200: answer("The top-up's summary")})
def run_top_up() -> Any:
    """The ops trigger for the inventory top-up: an admin JWT or the cron secret (no authorizer in front of this
    route; pregen.http.trigger_auth checks the caller)."""
    caller = authorize_trigger(app.current_event.headers.get("authorization"), trigger_settings())
    logger.info("top-up triggered over HTTP", caller=caller.sub)
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
