"""One correlation id from the API request through the queue to the worker's logs and the stored content."""

from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING, Any

from functions.get_content import app as get_content
from pregen.observability import logger
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from tests.integration.conftest import Aws

LESSON = {"kind": "lesson", "subject": "History", "topic": "Rome", "grade": "7"}


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def test_the_request_id_follows_the_job_to_the_worker_logs_and_the_content(aws: Aws) -> None:
    # Given a request whose API Gateway request id is known
    event = api_event("get_content.json", query=LESSON)
    event["requestContext"]["requestId"] = "req-correlation-42"
    # When it misses
    status, _, body = call(get_content, event)
    assert status == 202
    job_id, key = body["job_id"], body["key"]
    # Then the queued message carries the id in its body and as a message attribute
    (message,) = aws.sqs.receive_message(
        QueueUrl=aws.queue_url("InteractiveQueue"), MessageAttributeNames=["All"], VisibilityTimeout=0
    )["Messages"]
    assert json.loads(message["Body"])["correlation_id"] == "req-correlation-42"
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == "req-correlation-42"
    # When the worker generates it (its JSON log lines caught from Powertools' handler)
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        run_worker(aws)
    finally:
        handler.setStream(previous)
    logs = json_lines(buffer.getvalue())
    # Then the worker's structured logs carry the correlation id, the job id and the content key
    worker_lines = [line for line in logs if line.get("function_name") == "worker" and "level" in line]
    assert worker_lines
    generated = [line for line in worker_lines if line["message"] == "content generated"]
    assert generated and generated[0]["correlation_id"] == "req-correlation-42"
    for line in worker_lines:
        assert (line.get("correlation_id"), line.get("job_id"), line.get("key")) == (
            "req-correlation-42",
            job_id,
            key,
        )
    # And the stored content's metadata and the job name it
    status, _, job = call(
        get_content,
        api_event("get_job.json", path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id}),
    )
    assert job["correlation_id"] == "req-correlation-42"
    assert job["content"]["meta"]["correlation_id"] == "req-correlation-42"
    assert job["content"]["meta"]["job_id"] == job_id
