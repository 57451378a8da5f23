"""Operators' runs of cron tasks: the routes answer 202 at once, the run goes through the operator tasks queue to
the cron function, and its status (queued, running, done, failed) is readable by admins only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_emulator.poller import to_lambda_record
from aws_emulator.runtime import LambdaContext
from functions.cron import app as cron
from pregen.domain.cron_runs import RunStatus
from pregen.services import schedules
from tests.integration.conftest import api_event, call

if TYPE_CHECKING:
    import pytest

    from tests.integration.conftest import Aws


def _start(task: str, role: str = "admin") -> tuple[int, dict[str, str], Any]:
    event = api_event(
        "cron_http.json", sub="ops-1", role=role, path=f"/v1/ops/cron/{task}", path_parameters={"task": task}
    )
    return call(cron, event)


def _show(run_id: str, role: str = "admin") -> tuple[int, dict[str, str], Any]:
    event = api_event(
        "cron_run_status.json",
        sub="ops-1",
        role=role,
        path=f"/v1/ops/cron/runs/{run_id}",
        path_parameters={"run_id": run_id},
    )
    return call(cron, event)


def _deliver(aws: Aws, *, keep: bool = False) -> list[dict[str, Any]]:
    """What the OperatorTasks event source does: each message of the operator tasks queue to the cron function,
    one per invocation; ``keep`` leaves the message in the queue (visible again), as if the invocation died."""
    sqs, url = aws.sqs, aws.queue_url("OperatorQueue")
    (source,) = [s for s in aws.template.queue_sources() if s.queue == "OperatorQueue"]
    assert (source.function, source.batch_size) == ("CronFunction", 1)
    results = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, MessageSystemAttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return results
        (message,) = messages
        record = to_lambda_record(message, aws.resources.queue_arns["OperatorQueue"])
        result = cron.lambda_handler({"Records": [record]}, LambdaContext(function_name="cron", timeout_s=300))
        results.append(result)
        if keep:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            return results
        if not result["batchItemFailures"]:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_a_start_answers_202_at_once_and_the_run_reaches_done_through_the_queue(aws: Aws) -> None:
    status, headers, body = _start("queue_report")
    assert status == 202
    assert body["status"] == "queued" and body["joined"] is False and body["task"] == "queue_report"
    assert headers["location"] == f"/v1/ops/cron/runs/{body['run_id']}"
    assert aws.depth("OperatorQueue") == 1  # nothing ran in the request: the run waits in the queue
    assert _show(body["run_id"])[2]["status"] == "queued"

    assert _deliver(aws) == [{"batchItemFailures": []}]

    status, _, run = _show(body["run_id"])
    assert status == 200
    assert run["status"] == "done"
    assert run["result"]["task"] == "queue_report"
    assert set(run["result"]["queues"]) >= {"interactive", "background"}
    assert run["requested_by"] == "ops-1"
    assert run["started_at"] is not None and run["ended_at"] >= run["started_at"] >= run["requested_at"]
    assert run["error"] is None
    assert aws.depth("OperatorQueue") == 0


def test_a_second_start_while_the_run_has_not_ended_joins_it_and_queues_nothing(aws: Aws) -> None:
    first = _start("warm_all")[2]
    status, headers, second = _start("warm_all")
    assert status == 202
    assert second["run_id"] == first["run_id"] and second["joined"] is True
    assert headers["location"].endswith(first["run_id"])
    assert aws.depth("OperatorQueue") == 1
    # Another task is its own run
    assert _start("queue_report")[2]["run_id"] != first["run_id"]
    _deliver(aws)
    assert _show(first["run_id"])[2]["status"] == "done"
    # Once it ended, a start is a new run
    third = _start("warm_all")[2]
    assert third["run_id"] != first["run_id"] and third["joined"] is False


def test_a_task_that_raises_ends_failed_with_its_error_and_is_not_retried(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(deps: Any) -> dict[str, Any]:
        raise RuntimeError("the queues are unreachable")

    monkeypatch.setattr(schedules, "queue_report", broken)
    run_id = _start("queue_report")[2]["run_id"]
    assert _deliver(aws) == [{"batchItemFailures": []}]  # recorded, so the message is done with
    run = _show(run_id)[2]
    assert run["status"] == "failed"
    assert run["error"] == "RuntimeError: the queues are unreachable"
    assert run["result"] is None
    assert aws.depth("OperatorQueue") == 0
    # The task is free again
    assert _start("queue_report")[2]["joined"] is False


def test_a_run_whose_invocation_died_is_failed_by_the_next_delivery_not_run_twice(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = schedules.queue_report

    def counted(deps: Any) -> dict[str, Any]:
        calls.append(1)
        return real(deps)

    monkeypatch.setattr(schedules, "queue_report", counted)
    run_id = _start("queue_report")[2]["run_id"]
    runs = cron.run_deps().runs
    # The first delivery marked it running and then its invocation died (the message comes back)
    record = runs.get(run_id)
    assert record is not None
    assert runs.mark_running(
        record.model_copy(update={"status": RunStatus.RUNNING, "started_at": 1.0, "deadline": 2.0})
    )
    aws.sqs.receive_message(QueueUrl=aws.queue_url("OperatorQueue"), VisibilityTimeout=0)  # that first receive
    _deliver(aws)
    run = _show(run_id)[2]
    assert run["status"] == "failed"
    assert "before the task finished" in run["error"]
    assert calls == []  # the task did not run again under the same run


def test_only_admins_start_or_read_runs(aws: Aws) -> None:
    assert _start("queue_report", role="student")[0] == 403
    assert _start("queue_report", role="teacher")[0] == 403
    assert aws.depth("OperatorQueue") == 0
    run_id = _start("queue_report")[2]["run_id"]
    status, _, body = _show(run_id, role="teacher")
    assert status == 403
    assert body["error"]["code"] == "forbidden"


def test_unknown_tasks_and_runs_are_refused_with_4xx(aws: Aws) -> None:
    status, _, body = _start("nope")
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
    assert aws.depth("OperatorQueue") == 0
    status, _, body = _show("0" * 32)
    assert status == 404
    assert body["error"]["code"] == "not_found"
    status, _, body = _show("not-a-run-id")
    assert status == 400
    assert body["error"]["code"] == "invalid_request"
