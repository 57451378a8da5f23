"""The local poller honours SQS time: a failed record comes back when its visibility timeout ends (the worker's
backoff, set with ChangeMessageVisibility), and a record failing every time reaches the dead-letter queue after the
queue's maxReceiveCount receives (moto applies the RedrivePolicy, as SQS does)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
from moto import mock_aws

from aws_emulator.poller import QueuePoller

ARN = "arn:aws:sqs:us-east-1:123456789012:lane"


class FailsWithBackoff:
    """A worker that fails every record and asks for it back after ``backoff_s`` (ChangeMessageVisibility)."""

    def __init__(self, sqs: Any, url: str, backoff_s: int) -> None:
        self.sqs, self.url, self.backoff_s = sqs, url, backoff_s
        self.receives: list[tuple[float, str]] = []  # (when, ApproximateReceiveCount)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        for record in event["Records"]:
            self.receives.append((time.monotonic(), record["attributes"]["ApproximateReceiveCount"]))
            self.sqs.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=self.backoff_s
            )
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}


def _poller(sqs: Any, url: str, worker: FailsWithBackoff) -> QueuePoller:
    return QueuePoller(sqs, queue_url=url, queue_arn=ARN, function=worker, batch_size=10, concurrency=1)


def _poll_until(poller: QueuePoller, done: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        poller.poll_once()
        time.sleep(0.05)


def test_a_failed_record_comes_back_after_the_workers_backoff_not_before() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        # The queue's own visibility timeout is long: only the worker's 2 s backoff can bring the record back soon
        url = sqs.create_queue(QueueName="lane", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
        worker = FailsWithBackoff(sqs, url, backoff_s=2)
        poller = _poller(sqs, url, worker)
        # When the first delivery fails with its backoff
        assert poller.poll_once() == 1 and poller.failed == 1
        # Then it is delivered again once the backoff has passed, not before, as its second receive, and long before
        # the queue's 300 s (judged by when the worker saw it: a poll that started within the backoff but was slowed
        # by a loaded machine may return it seconds after it came back, so no "nothing yet at 1.5 s" check)
        _poll_until(poller, lambda: len(worker.receives) > 1, seconds=30)
        (first, _), (second, count) = worker.receives[:2]
        assert count == "2"
        assert 1.9 <= second - first < 30


def test_a_record_failing_every_time_ends_in_the_dlq_after_max_receive_count_receives() -> None:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        dlq = sqs.create_queue(QueueName="lane-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})
        attributes = {"VisibilityTimeout": "300", "RedrivePolicy": redrive}
        url = sqs.create_queue(QueueName="lane", Attributes=attributes)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
        worker = FailsWithBackoff(sqs, url, backoff_s=0)  # back at once: the test is about the count, not time

        def dead_lettered() -> bool:
            return bool(sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0).get("Messages"))

        _poll_until(_poller(sqs, url, worker), dead_lettered, seconds=10)
        # Then it was delivered maxReceiveCount times, then moved to the DLQ, and the lane is empty
        assert [count for _, count in worker.receives] == ["1", "2", "3"]
        assert dead_lettered()
        assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages") is None
