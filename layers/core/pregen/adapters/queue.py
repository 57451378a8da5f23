"""SQS adapter: the one place that talks to SQS. A lane is a queue; each has its own dead-letter queue."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import boto3

from pregen.domain.records import QueuedMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from pregen.domain.models import Lane


class SqsJobQueue:
    def __init__(self, queue_urls: dict[Lane, str], client: SQSClient | None = None) -> None:
        self.queue_urls = queue_urls
        self.client = client or boto3.client("sqs")

    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        """Send a job to a lane; ``delay_seconds`` (≤ 900, SQS's limit) holds it back, e.g. a throttled job."""
        _send(self.client, self.queue_urls[lane], message, delay_seconds)

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        """SendMessageBatch, 10 messages a request (SQS's most); the indexes of those SQS did not take."""
        failed: list[int] = []
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(i), **_entry(message, 0)}
                for i, message in enumerate(messages[start : start + 10], start=start)
            ]
            answer = self.client.send_message_batch(QueueUrl=self.queue_urls[lane], Entries=entries)  # type: ignore[arg-type]
            failed += [int(f["Id"]) for f in answer.get("Failed", [])]
        return sorted(failed)

    def retry_in(self, lane: Lane, receipt_handle: str, seconds: int) -> None:
        """ChangeMessageVisibility: the message comes back after ``seconds`` (≤ 12 h, SQS's limit)."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_urls[lane], ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(43_200, seconds))
        )

    def depth(self, urls: dict[str, str]) -> dict[str, dict[str, int]]:
        """Visible, in-flight and oldest-message figures per named queue (a queue attribute read, never a scan)."""
        result: dict[str, dict[str, int]] = {}
        for name, url in urls.items():
            attrs = self.client.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            result[name] = {
                "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            }
        return result

    def peek(self, url: str, limit: int) -> list[QueuedMessage]:
        """Receive with a zero visibility timeout, so every message stays visible where it is (an operator's
        redrive still finds it); SQS answers from a sample of its servers, so a few receives, deduplicated."""
        found: dict[str, QueuedMessage] = {}
        for _ in range(max(1, limit // 10) + 2):
            messages = self.client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
            ).get("Messages", [])
            new = [m for m in messages if m["MessageId"] not in found]
            for message in new:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = {}
                attrs = message.get("Attributes", {})
                found[message["MessageId"]] = QueuedMessage(
                    message_id=message["MessageId"],
                    body=body if isinstance(body, dict) else {},
                    receives=int(attrs.get("ApproximateReceiveCount", "0")),
                    sent_at=int(attrs.get("SentTimestamp", "0")) // 1000,
                )
            if not new or len(found) >= limit:
                break
        return list(found.values())[:limit]


class SqsTaskQueue:
    """One queue that is not a lane: the operator tasks' queue, which the cron function consumes."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs")

    def send(self, message: dict[str, Any]) -> None:
        _send(self.client, self.queue_url, message, 0)


def _entry(message: dict[str, Any], delay_seconds: int) -> dict[str, Any]:
    """A message as JSON, its correlation id (if any) as a message attribute, so the consumer's log lines carry it."""
    attributes: dict[str, Any] = {}
    if message.get("correlation_id"):
        attributes["correlation_id"] = {"DataType": "String", "StringValue": str(message["correlation_id"])}
    return {
        "MessageBody": json.dumps(message, separators=(",", ":")),
        "MessageAttributes": attributes,
        "DelaySeconds": max(0, min(900, delay_seconds)),
    }


def _send(client: SQSClient, url: str, message: dict[str, Any], delay_seconds: int) -> None:
    client.send_message(QueueUrl=url, **_entry(message, delay_seconds))
