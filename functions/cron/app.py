"""cron: the scheduled jobs (EventBridge Scheduler), and operators' runs of them over HTTP.

Tasks: queue report, Message Batches collection, inventory top-up (and its resume), warming every grade, dead letters.
A schedule invokes the function with the task's name and the task runs at once. An operator's
``POST /v1/ops/cron/{task}`` (or ``POST /v1/cron/run``, the top-up) answers 202 with a run to follow; the run's
message comes back to this function from the operator tasks queue (pregen.services.cron_runs).
"""

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from pregen.domain.cron_runs import CronRun
from pregen.domain.models import Role
from pregen.http.api import answer, build_resolver, current_caller, json_response, require_role
from pregen.http.cron_presenters import CronRunAcceptedBody, CronRunBody, cron_run_accepted_body, run_location
from pregen.http.cron_presenters import cron_run_body as present_run
from pregen.http.trigger_auth import authorize_trigger
from pregen.observability import logger, metrics
from pregen.services.cron_runs import get_run, run_queued, start_run
from pregen.services.schedules import ScheduleEvent, Task, run_schedule
from pregen.wiring.cron import cron_deps, run_deps, trigger_settings
from pregen.wiring.identity import role_claim
from pregen.wiring.priming import prime

app = build_resolver(role_claim)
prime(cron_deps, run_deps)  # in init: settings, clients and service models, not in the first request

RunId = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$", description="the run's id")]
_ACCEPTED = (
    "Accepted: the task runs from the operator tasks queue (Location: the run, Retry-After). "
    "A task whose run has not ended answers that run (joined: true)."
)
_RETRY_AFTER_SECONDS = 2


def _accepted(run: CronRun, *, started: bool) -> Any:
    headers = {"Location": run_location(run.run_id), "Retry-After": str(_RETRY_AFTER_SECONDS)}
    return json_response(HTTPStatus.ACCEPTED, cron_run_accepted_body(run, joined=not started), headers)


@app.post("/v1/ops/cron/<task>", responses={202: answer(_ACCEPTED, CronRunAcceptedBody)})
def trigger(task: Annotated[Task, Path(description="one of the scheduled tasks")]) -> Any:
    caller = current_caller(app)
    require_role(caller, Role.ADMIN)
    run, started = start_run(task, caller.sub, run_deps())
    return _accepted(run, started=started)


@app.get("/v1/ops/cron/runs/<run_id>", responses={200: answer("The run: queued, running, done or failed", CronRunBody)})
def show_run(run_id: RunId) -> Any:
    require_role(current_caller(app), Role.ADMIN)
    return json_response(HTTPStatus.OK, present_run(get_run(run_id, run_deps())))


@app.post("/v1/cron/run", responses={202: answer(_ACCEPTED, CronRunAcceptedBody)})
def run_top_up() -> Any:
    """The ops trigger for the inventory top-up: an admin JWT or the cron secret (no authorizer in front of this
    route; pregen.http.trigger_auth checks the caller)."""
    caller = authorize_trigger(app.current_event.headers.get("authorization"), trigger_settings())
    logger.info("top-up triggered over HTTP", caller=caller.sub)
    run, started = start_run("inventory_topup", caller.sub, run_deps())
    return _accepted(run, started=started)


def _operator_tasks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The operator tasks queue (BatchSize 1): each message is one run; a run that fails is recorded, not retried
    (the operator starts it again); only a failure to record it hands the message back."""

    def record_handler(record: SQSRecord) -> None:
        remaining = context.get_remaining_time_in_millis() / 1000
        receives = int(record.attributes.approximate_receive_count or 1)
        run_queued(record.body, receives, remaining, run_deps(), cron_deps)

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "requestContext" in event:  # an operator's HTTP request
        return app.resolve(event, context)
    if "Records" in event:  # the operator tasks queue
        return _operator_tasks(event, context)
    summary = run_schedule(ScheduleEvent.model_validate(event), cron_deps())
    logger.info("schedule ran", **summary)
    return summary
