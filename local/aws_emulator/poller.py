"""Feeds SQS batches to a function the way Lambda's event source mapping does: batch size, concurrency,
partial batch failures (ReportBatchItemFailures), visibility, and redrive to the DLQ after maxReceiveCount
(moto applies the queue's RedrivePolicy on receive, as SQS does).

Visibility is SQS's own: a record the function reports failed keeps the visibility it has (the queue's
VisibilityTimeout, or what the function set with ChangeMessageVisibility: the worker's backoff), and a batch whose
invocation failed as a whole (its environment died or timed out) comes back when its visibility timeout ends. A run
that needs failures back sooner configures that: a shorter queue visibility timeout or the worker's backoff."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from aws_emulator.runtime import Invocable

logger = logging.getLogger(__name__)


def to_lambda_record(message: MessageTypeDef, queue_arn: str) -> dict[str, Any]:
    attrs = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attrs.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attrs.get("SentTimestamp", "0"),
            "SenderId": attrs.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attrs.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": None,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.get("DataType", "String"),
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


class QueuePoller:
    """``concurrency`` loops, each invoking the function with one batch at a time.

    As Lambda's pollers do, a loop receives its next batch while the function works on the current one, and
    deletes what succeeded off that path (a deleter thread), so a warm environment is not left waiting on SQS
    between batches. A batch received ahead and never invoked (the stack stopping) is made visible again at once.
    """

    def __init__(
        self,
        sqs: SQSClient,
        *,
        queue_url: str,
        queue_arn: str,
        function: Invocable,
        batch_size: int,
        concurrency: int,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.deletions: queue.Queue[list[MessageTypeDef] | None] = queue.Queue()
        self.deleter: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        name = self.queue_arn.rsplit(":", 1)[-1]
        self.deleter = threading.Thread(target=self._delete_loop, name=f"deleter-{name}", daemon=True)
        self.deleter.start()
        for i in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"poller-{name}-{i}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        if self.deleter is not None:
            self.deletions.put(None)
            self.deleter.join(timeout=5)

    def _loop(self) -> None:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="receiver") as receiver:
            ahead: Future[list[MessageTypeDef]] | None = None
            while not self.stopping.is_set():
                try:
                    messages = ahead.result() if ahead is not None else self._receive(wait_seconds=1)
                    ahead = None
                    if not messages:
                        continue
                    ahead = receiver.submit(self._receive, 1)
                    self._deliver(messages, self.deletions.put)
                except Exception:
                    logger.exception("poller error (queue %s)", self.queue_url)
                    self.stopping.wait(1)
            if ahead is not None:
                with contextlib.suppress(Exception):
                    self._release(ahead.result())

    def _release(self, messages: list[MessageTypeDef]) -> None:
        """Received but never invoked: visible again now, not after the visibility timeout."""
        if messages:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages)
                ],
            )

    def _delete_loop(self) -> None:
        while (done := self.deletions.get()) is not None:
            try:
                self._delete(done)
            except Exception:  # the messages come back after their visibility timeout and are found done
                logger.exception("poller could not delete messages (queue %s)", self.queue_url)

    def _delete(self, done: list[MessageTypeDef]) -> None:
        self.sqs.delete_message_batch(
            QueueUrl=self.queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
        )

    def _receive(self, wait_seconds: int) -> list[MessageTypeDef]:
        if self.stopping.is_set():
            return []
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def poll_once(self, wait_seconds: int = 0) -> int:
        """Receive one batch and hand it to the function, deleting what succeeded before returning; returns how
        many messages it held."""
        messages = self._receive(wait_seconds)
        if messages:
            self._deliver(messages, self._delete)
        return len(messages)

    def _deliver(self, messages: list[MessageTypeDef], delete: Callable[[list[MessageTypeDef]], None]) -> None:
        """Invoke the function with one batch and delete what succeeded. What failed is left as it is: it comes back
        when its visibility timeout ends (the queue's, or the one the function set), as on AWS."""
        event = {"Records": [to_lambda_record(m, self.queue_arn) for m in messages]}
        try:
            result = self.function.invoke(event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            logger.exception("worker invocation failed; the batch returns after its visibility timeout")
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            delete(done)
        self.delivered += len(messages)
        self.failed += len(failed)
