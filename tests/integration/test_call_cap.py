"""A job's model calls are capped across re-asks, retries and deliveries, and a failed delivery comes back after a
backoff that fits the fault, not after the queue's 30-minute visibility timeout (issue 16)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from aws_emulator.poller import to_lambda_record
from aws_emulator.runtime import LambdaContext
from functions.get_content import app as get_content
from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.errors import GenerationFailed
from pregen.domain.pricing import default_prices
from pregen.domain.work_budget import WORKER_TIMEOUT_S
from pregen.services.failures import retry_delay
from pregen.wiring import worker as worker_wiring
from pregen_fakes.fake_anthropic import FaultRates, running_fake_anthropic
from tests.integration.conftest import Aws, api_event, call, run_worker

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest, Generation

LESSON = {"kind": "lesson", "subject": "Maths", "topic": "Cap"}


def miss() -> str:
    status, _, body = call(get_content, api_event("get_content.json", query=LESSON))
    assert status == 202
    return str(body["job_id"])


def job(job_id: str) -> dict[str, Any]:
    event = api_event("get_job.json", role="admin", path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id})
    return call(get_content, event)[2]


def deliver_once(aws: Aws) -> dict[str, Any]:
    """One delivery to the worker, leaving the message's visibility as the worker set it."""
    from functions.worker import app as worker

    url = aws.queue_url("InteractiveQueue")
    messages = aws.sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    arn = aws.resources.queue_arns["InteractiveQueue"]
    result: dict[str, Any] = worker.lambda_handler(
        {"Records": [to_lambda_record(m, arn) for m in messages]},
        LambdaContext(function_name="worker", timeout_s=WORKER_TIMEOUT_S),
    )
    return result


@dataclass
class SpendingGenerator:
    """Fails retryably every time, having made ``calls_each`` model calls; records the budget it was given."""

    name: str = "spending"
    calls_each: int = 2
    budgets: list[int | None] = field(default_factory=list)

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        self.budgets.append(max_calls)
        error = GenerationFailed("provider unavailable: APIConnectionError", retryable=True)
        error.calls = min(self.calls_each, max_calls or self.calls_each)
        raise error


def test_a_permanently_invalid_answer_makes_at_most_the_cap_of_calls_then_fails_with_its_reason(aws: Aws) -> None:
    with running_fake_anthropic(faults=FaultRates(invalid=1.0)) as fake:
        worker_wiring.worker_deps().generator = AnthropicGenerator(
            api_key="sk-test-fake", model_for=lambda _: "claude-haiku-5-5", prices=default_prices(),
            base_url=fake.base_url, max_retries=0,
        )  # fmt: skip
        job_id = miss()
        run_worker(aws)  # every delivery SQS makes, until the dead-letter queue
        calls = len(fake.requests)
    cap = worker_wiring.worker_deps().policy.max_model_calls
    shown = job(job_id)
    # The re-asks (3) ran on the first delivery; the job then failed for good: no other delivery called the model
    assert calls == 3 <= cap
    assert shown["status"] == "failed"
    assert shown["reason"].startswith("permanent: content still invalid after 3 attempts")
    assert shown["model_calls"] == 3
    (attempt,) = shown["history"]
    assert attempt["outcome"] == "failed" and attempt["calls"] == 3
    assert attempt["tokens"] > 0 and attempt["cost_usd"] > 0  # failed attempts are billed, and counted
    assert aws.depth("InteractiveDeadLetterQueue") == 1


def test_retryable_failures_stop_at_the_cap_across_deliveries(aws: Aws) -> None:
    generator = SpendingGenerator(calls_each=3)
    worker_wiring.worker_deps().generator = generator
    job_id = miss()
    run_worker(aws)
    cap = worker_wiring.worker_deps().policy.max_model_calls  # 4
    # Delivery 1 may make 4 calls and makes 3; delivery 2 may make the 1 left, and spends the cap: failed for good
    assert generator.budgets == [cap, cap - 3]
    shown = job(job_id)
    assert shown["model_calls"] == cap
    assert shown["status"] == "failed"
    assert "model calls are spent" in shown["reason"]
    assert [a["calls"] for a in shown["history"]] == [3, 1]


def test_a_delivery_killed_before_it_settled_counts_against_the_cap(aws: Aws) -> None:
    generator = SpendingGenerator(calls_each=3)
    worker_wiring.worker_deps().generator = generator
    job_id = miss()
    deps = worker_wiring.worker_deps()
    record = deps.jobs.get_job(job_id)
    assert record is not None
    # A delivery took the key's lease and was killed before it recorded anything (its lease has lapsed since)
    long_ago = deps.clock.now() - 1_000
    assert deps.writes.lease(record.key, job_id, "killed-worker", long_ago, 1, unless_cached=True, attempts=1)
    run_worker(aws)
    cap = deps.policy.max_model_calls  # 4
    # The next delivery counts the killed one as a call: it may make 3 and makes them, which spends the cap with
    # it; the job fails for good with no fifth call (without the count: budgets [4, 1], 4 calls recorded)
    assert generator.budgets == [cap - 1]
    shown = job(job_id)
    assert shown["status"] == "failed"
    assert "model calls are spent" in shown["reason"]
    assert [a["calls"] for a in shown["history"]] == [3]


def test_a_failed_delivery_comes_back_after_its_backoff_not_the_visibility_timeout(aws: Aws) -> None:
    worker_wiring.worker_deps().generator = SpendingGenerator(calls_each=1)
    job_id = miss()
    now = worker_wiring.worker_deps().clock.now()
    result = deliver_once(aws)
    assert len(result["batchItemFailures"]) == 1
    shown = job(job_id)
    base = worker_wiring.worker_deps().policy.retry_base_delay_s
    assert shown["status"] == "queued"
    assert shown["reason"].startswith("retrying after:")
    assert now + 0.8 * base - 1 <= shown["next_attempt_at"] <= now + 1.2 * base + 1
    # The message is hidden for the backoff (ChangeMessageVisibility), then comes back
    url = aws.queue_url("InteractiveQueue")
    assert aws.sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    worker_wiring.worker_deps().generator = OfflineGenerator()
    aws.sqs.purge_queue(QueueUrl=url)  # moto's clock is the real one: do not wait the seconds out here


@pytest.mark.parametrize(("receive_count", "exact"), [(1, 10), (2, 40), (3, 160), (4, 640)])
def test_the_backoff_grows_four_fold_with_jitter(receive_count: int, exact: int) -> None:
    rng = random.Random(7)
    delays = [retry_delay(receive_count, 10, None, rng) for _ in range(200)]
    assert 0.8 * exact <= min(delays) < max(delays) <= 1.2 * exact
    assert retry_delay(1, 10, 95.0, rng) >= 95  # the provider's retry-after wins when longer
    assert retry_delay(30, 10, None, rng) == 43_200  # SQS's longest visibility
