"""Provider throttling (429/529 after the SDK's retries): the job is delayed, not dead-lettered."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from functions.get_content import app as get_content
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.clock import FrozenClock
from pregen.domain.errors import ProviderThrottled
from pregen.services.generation import throttle_delay
from pregen.wiring import serve as serve_wiring
from pregen.wiring import worker as worker_wiring
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest, Generation
    from tests.integration.conftest import Aws

LESSON = {"kind": "lesson", "subject": "Physics", "topic": "Momentum", "grade": "10"}


@dataclass
class ThrottledGenerator:
    """Throttled for the first ``throttle_times`` calls, then valid offline content."""

    name: str = "throttled"
    throttle_times: int = 1
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        with self.lock:
            self.calls += 1
            throttled = self.calls <= self.throttle_times
        if throttled:
            raise ProviderThrottled("provider throttled: 429", retry_after=None)
        return OfflineGenerator().generate(request)


def job(job_id: str) -> dict[str, Any]:
    event = api_event(
        "get_job.json", sub="ops", role="admin", path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id}
    )
    return call(get_content, event)[2]


def delayed(aws: Aws, queue: str) -> int:
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url(queue), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessagesDelayed"])


def use(generator: ThrottledGenerator, *, base_delay_s: int, max_retries: int = 8) -> None:
    deps = worker_wiring.worker_deps()
    deps.generator = generator
    deps.policy = deps.policy.model_copy(
        update={"throttle_base_delay_s": base_delay_s, "max_throttle_retries": max_retries}
    )


def test_a_throttled_job_is_re_sent_with_a_delay_and_its_delivery_succeeds(aws: Aws) -> None:
    # Given a provider that throttles the first call, and a 60 s base backoff
    use(ThrottledGenerator(throttle_times=1), base_delay_s=60)
    _, _, miss = call(get_content, api_event("get_content.json", query=LESSON))
    # When the worker takes the job
    results = run_worker(aws)
    # Then the delivery succeeded (no receive count burnt), and the job waits in its lane, delayed, not dead-lettered
    assert results[0]["batchItemFailures"] == []
    assert delayed(aws, "InteractiveQueue") == 1
    assert aws.depth("InteractiveQueue") == 0
    assert aws.depth("InteractiveDeadLetterQueue") == 0
    shown = job(miss["job_id"])
    assert shown["status"] == "queued"
    assert "provider throttled" in shown["reason"]
    assert "retrying in 60 s" in shown["reason"]
    # ...and its key stays in flight past the delay (beyond the 330 s lease), so a learner who misses meanwhile
    # joins this job instead of starting another
    serve_wiring.serve_deps().clock = FrozenClock(at=time.time() + 380)
    again = call(get_content, api_event("get_content.json", sub="zed", query=LESSON))[2]
    assert (again["job_id"], again["joined"]) == (miss["job_id"], True)
    # And nothing is visible yet: the message is held back by its DelaySeconds
    url = aws.queue_url("InteractiveQueue")
    assert aws.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_throttled_work_is_finished_once_the_provider_answers_again(aws: Aws) -> None:
    # Given a provider that throttles three times in a row (more than max_receive_count), no delay to wait out
    generator = ThrottledGenerator(throttle_times=3)
    use(generator, base_delay_s=0)
    _, _, miss = call(get_content, api_event("get_content.json", query=LESSON))
    # When the worker keeps taking what is on the queue
    run_worker(aws)
    # Then the job is done: throttling never counted against the 3 deliveries before the DLQ
    assert job(miss["job_id"])["status"] == "done"
    assert generator.calls == 4
    assert aws.depth("InteractiveDeadLetterQueue") == 0


def test_past_the_throttle_retry_cap_the_job_fails_with_a_reason_and_reaches_the_dlq(aws: Aws) -> None:
    # Given a provider that never stops throttling, and a cap of 2 delayed retries
    generator = ThrottledGenerator(throttle_times=10_000)
    use(generator, base_delay_s=0, max_retries=2)
    _, _, miss = call(get_content, api_event("get_content.json", query=LESSON))
    # When the worker keeps trying
    run_worker(aws)
    # Then 2 delayed retries, then 3 ordinary deliveries, then the DLQ, with the reason on the job
    assert generator.calls == 2 + 3
    assert aws.depth("InteractiveDeadLetterQueue") == 1
    shown = job(miss["job_id"])
    assert shown["status"] == "failed"
    assert "still throttling after 2 delayed retries" in shown["reason"]
    dead = aws.sqs.receive_message(QueueUrl=aws.queue_url("InteractiveDeadLetterQueue"))["Messages"][0]
    assert json.loads(dead["Body"])["throttle_retries"] == 2


def test_backoff_doubles_honours_retry_after_and_stays_within_sqs_limits() -> None:
    assert [throttle_delay(n, 30, None) for n in range(6)] == [30, 60, 120, 240, 480, 900]
    assert throttle_delay(0, 30, 120.0) == 120
    assert throttle_delay(0, 30, 5_000.0) == 900


def test_a_record_started_with_too_little_time_left_is_handed_back_not_cut_off(aws: Aws) -> None:
    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker

    # Given a job, and an invocation with only 60 s left (less than a generation may need)
    generator = ThrottledGenerator(throttle_times=0)
    use(generator, base_delay_s=30)
    _, _, miss = call(get_content, api_event("get_content.json", query=LESSON))
    url = aws.queue_url("InteractiveQueue")
    message = aws.sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"][0]
    # When the worker gets it
    result = worker.lambda_handler(
        {"Records": [to_lambda_record(message, aws.resources.queue_arns["InteractiveQueue"])]},
        LambdaContext(function_name="worker", timeout_s=60),
    )
    aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    # Then it did not start generating: the delivery succeeded and the same job is back on its lane
    assert result["batchItemFailures"] == []
    assert generator.calls == 0
    (again,) = aws.sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(again["Body"])["job_id"] == miss["job_id"]
    # And a full invocation generates it
    aws.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=0)
    run_worker(aws)
    assert job(miss["job_id"])["status"] == "done"
