"""The worker against moto: one generation per key under duplicates and stampedes, leases that expire,
failures that are retried and then dead-lettered with their reason, and lanes that join."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from functions.get_content import app as get_content
from functions.pre_generate import app as pre_generate
from pregen.adapters.generators.keyed import KeyedGenerator
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.config.worker import WorkerSettings
from pregen.domain.clock import FrozenClock
from pregen.domain.errors import GenerationFailed, KeyUnavailable
from pregen.domain.models import Caller, ContentRequest, Generation, JobStatus, Priority
from pregen.domain.work_budget import LEASE_SECONDS, WORKER_TIMEOUT_S
from pregen.services.content import enqueue_or_join
from pregen.wiring import serve as serve_wiring
from pregen.wiring import worker as worker_wiring
from pregen.wiring.worker import make_generator
from tests.integration.conftest import Aws, api_event, call, freeze, lambda_environments, run_worker

LESSON = {"kind": "lesson", "subject": "Chemistry", "topic": "Moles", "grade": "11"}


@dataclass
class CountingGenerator:
    """Counts calls; fails the first ``fail_times`` calls with ``failure``."""

    name: str = "counting"
    calls: int = 0
    fail_times: int = 0
    failure: Exception = field(default_factory=lambda: GenerationFailed("provider unavailable", retryable=True))
    inner: OfflineGenerator = field(default_factory=OfflineGenerator)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        with self.lock:
            self.calls += 1
            failing = self.calls <= self.fail_times
        if failing:
            raise self.failure
        return self.inner.generate(request)


def use_generator(generator: CountingGenerator) -> None:
    worker_wiring.worker_deps().generator = generator


def get(query: dict[str, str], sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    return call(get_content, api_event("get_content.json", sub=sub, query=query))


def job(job_id: str) -> dict[str, Any]:
    event = api_event(
        "get_job.json", sub="ops", role="admin", path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id}
    )
    return call(get_content, event)[2]


def _a_miss_and_its_message(aws: Aws) -> tuple[CountingGenerator, dict[str, Any], str, Any]:
    """A learner's miss with a counting generator: (the generator, the miss's answer, the lane, its message, which
    is visible again)."""
    generator = CountingGenerator()
    use_generator(generator)
    _, _, miss = get(LESSON)
    url = aws.queue_url("InteractiveQueue")
    message = aws.sqs.receive_message(QueueUrl=url)["Messages"][0]
    aws.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return generator, miss, url, message


def test_duplicate_deliveries_generate_once(aws: Aws) -> None:
    generator, miss, url, message = _a_miss_and_its_message(aws)
    # Given SQS delivers the same message twice (at-least-once)
    aws.sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
    # When the worker runs both
    run_worker(aws)
    # Then the content was generated once and the job is done
    assert generator.calls == 1
    assert job(miss["job_id"])["status"] == "done"
    assert aws.depth("InteractiveQueue") == 0


def test_a_duplicate_that_read_before_the_first_delivery_stored_does_not_generate_again(aws: Aws) -> None:
    generator, miss, url, message = _a_miss_and_its_message(aws)
    run_worker(aws)  # the first delivery generates, stores and ends its lease
    assert generator.calls == 1
    aws.sqs.send_message(QueueUrl=url, MessageBody=message["Body"])  # SQS delivers it twice
    # Given the duplicate read the key before the first delivery stored it (they ran side by side)
    store = worker_wiring.worker_deps().store
    reads = {"n": 0}
    read = store.get_content

    def stale_first_read(key: str, now: float, *, consistent: bool = False) -> Any:
        reads["n"] += 1
        return None if reads["n"] == 1 else read(key, now, consistent=consistent)

    store.get_content = stale_first_read  # type: ignore[method-assign]
    # When it takes the lease (free again), it reads once more and does not call the model
    run_worker(aws)
    assert generator.calls == 1
    assert job(miss["job_id"])["status"] == "done"
    assert aws.depth("InteractiveQueue") == 0


def test_a_stampede_of_concurrent_misses_makes_one_job_and_one_generation(aws: Aws, atomic_requests: None) -> None:
    generator = CountingGenerator()
    use_generator(generator)
    job_ids: list[str] = []
    errors: list[BaseException] = []
    environments = lambda_environments(get_content, 40)  # one event at a time each, as on Lambda

    def miss(i: int) -> None:
        try:
            status, _, body = call(environments[i], api_event("get_content.json", sub=f"learner-{i}", query=LESSON))
            assert status == 202
            job_ids.append(body["job_id"])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=miss, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(job_ids)) == 1
    assert aws.depth("InteractiveQueue") == 1
    run_worker(aws)
    assert generator.calls == 1


def _queued_on_a_frozen_clock(generator: CountingGenerator) -> tuple[Any, FrozenClock, Any]:
    """A lesson's job queued, the worker and the API on one frozen clock: (the worker's deps, the clock, the job)."""
    use_generator(generator)
    clock = FrozenClock(at=2_000_000_000.0)
    deps = worker_wiring.worker_deps()
    deps.clock = clock
    serve_wiring.serve_deps().clock = clock
    request = ContentRequest.model_validate(LESSON)
    job_, _ = enqueue_or_join(request, Caller(sub="alice"), Priority.DEFAULT, serve_wiring.serve_deps())
    assert job_ is not None
    return deps, clock, job_


def test_a_crashed_workers_lease_expires_and_the_key_is_generated_then(aws: Aws) -> None:
    generator = CountingGenerator()
    deps, clock, job_ = _queued_on_a_frozen_clock(generator)
    # Given another worker took the lease and crashed without finishing
    deps.store.acquire_lease(job_.key, "other-job", "crashed-worker", clock.now(), deps.policy.lease_seconds)
    # When this job is delivered while the lease is live, it does not generate
    run_worker(aws, max_batches=1)
    assert generator.calls == 0
    # When the lease has expired, the redelivered message generates it
    clock.advance(deps.policy.lease_seconds + 1)
    run_worker(aws)
    assert generator.calls == 1
    assert job(job_.job_id)["status"] == "done"


def test_a_delivery_of_a_job_whose_dead_holder_still_has_the_lease_comes_back_when_the_lease_ends(aws: Aws) -> None:
    generator = CountingGenerator()
    deps, clock, job_ = _queued_on_a_frozen_clock(generator)
    # Given an earlier delivery of this very job took the lease, marked the job generating and was killed, its lease
    # ending in 2 s; and its message is back before that (its visibility counted from its receive)
    lease = deps.policy.lease_seconds
    deps.store.acquire_lease(job_.key, job_.job_id, "killed-invocation:m1", clock.now() - lease + 2, lease)
    deps.jobs.set_status(job_.job_id, JobStatus.GENERATING, clock.now(), attempts=1)
    # When that delivery reaches the worker, it does not generate, and is not acknowledged into nothing:
    (result,) = run_worker(aws, max_batches=1)
    assert result["batchItemFailures"] == []
    assert generator.calls == 0
    assert job(job_.job_id)["status"] == "generating"
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url("InteractiveQueue"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert int(attrs["ApproximateNumberOfMessagesDelayed"]) == 1  # handed back until the lease ends (~3 s)
    # Then, once the lease has ended, the handed-back copy generates the job
    time.sleep(3.2)
    clock.advance(3)
    run_worker(aws)
    assert generator.calls == 1
    assert job(job_.job_id)["status"] == "done"
    assert aws.depth("InteractiveQueue") == 0


def test_a_job_that_keeps_failing_ends_in_the_dlq_with_its_reason(aws: Aws) -> None:
    generator = CountingGenerator(fail_times=10)
    use_generator(generator)
    _, _, miss = get(LESSON)
    # When the worker keeps failing, SQS redelivers up to maxReceiveCount (3) times
    run_worker(aws)
    # Then the message is in the dead-letter queue, and the job says why
    assert generator.calls == 3
    assert aws.depth("InteractiveQueue") == 0
    assert aws.depth("InteractiveDeadLetterQueue") == 1
    failed = job(miss["job_id"])
    assert failed["status"] == "failed"
    assert "provider unavailable" in failed["reason"]
    # And the key is free again: a new miss makes a new job
    _, _, again = get(LESSON)
    assert again["job_id"] != miss["job_id"]
    assert again["joined"] is False


def test_a_transient_failure_is_retried_and_then_succeeds(aws: Aws) -> None:
    generator = CountingGenerator(fail_times=1)
    use_generator(generator)
    _, _, miss = get(LESSON)
    run_worker(aws)
    assert generator.calls == 2
    done = job(miss["job_id"])
    assert done["status"] == "done"
    assert done["attempts"] == 2
    assert aws.depth("InteractiveDeadLetterQueue") == 0


def test_a_refusal_fails_for_good_without_calling_the_model_again(aws: Aws) -> None:
    generator = CountingGenerator(fail_times=10, failure=GenerationFailed("the model refused", retryable=False))
    use_generator(generator)
    _, _, miss = get(LESSON)
    run_worker(aws)
    assert generator.calls == 1
    assert aws.depth("InteractiveDeadLetterQueue") == 1
    assert job(miss["job_id"])["reason"].startswith("permanent: the model refused")


def test_a_malformed_record_fails_alone(aws: Aws) -> None:
    use_generator(CountingGenerator())
    get(LESSON)
    aws.sqs.send_message(QueueUrl=aws.queue_url("InteractiveQueue"), MessageBody="{not json")
    results = run_worker(aws, max_batches=1)
    assert len(results[0]["batchItemFailures"]) == 1


def test_interactive_request_for_a_background_key_is_served_by_the_first_lane(aws: Aws) -> None:
    generator = CountingGenerator()
    use_generator(generator)
    # Given a key queued in the background lane (warming, priority 30)
    batch = {"priority": 30, "requests": [LESSON]}
    _, _, queued = call(pre_generate, api_event("pregenerate.json", sub="t", role="teacher", body=batch))
    assert aws.depth("BackgroundQueue") == 1
    # When a learner then asks for it, they join the job and it also goes to the interactive lane
    _, _, miss = get(LESSON)
    assert miss["job_id"] == queued["results"][0]["job_id"]
    assert aws.depth("InteractiveQueue") == 1
    # Then the interactive worker generates it, and the background delivery finds it done
    run_worker(aws, "InteractiveQueue")
    run_worker(aws, "BackgroundQueue")
    assert generator.calls == 1
    assert get(LESSON)[0] == 200


def test_generation_figures_are_stored_with_the_content(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    use_generator(CountingGenerator())
    _, _, miss = get(LESSON)
    run_worker(aws)
    item = aws.dynamodb.get_item(
        TableName=aws.resources.tables["ContentTable"], Key={"pk": {"S": miss["key"]}, "sk": {"S": "content"}}
    )["Item"]
    assert "B" in item["body"]  # compressed, not a JSON string
    meta = item["meta"]["M"]
    assert set(meta["usage"]["M"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    ttl_days = (int(item["expires_at"]["N"]) - int(item["created_at"]["N"])) / 86_400
    assert round(ttl_days) == 30
    counters = aws.dynamodb.scan(TableName=aws.resources.tables["CountersTable"])["Items"]
    assert json.dumps(counters).count("generated#lesson") == 1


def test_content_that_arrives_between_the_cache_read_and_the_claim_makes_no_job(aws: Aws) -> None:
    # Given the content was generated and its marker cleared after a learner's cache read missed
    use_generator(CountingGenerator())
    get(LESSON)
    run_worker(aws)
    request = ContentRequest.model_validate(LESSON)
    # When that learner's request goes on to enqueue
    job_, joined = enqueue_or_join(request, Caller(sub="late"), Priority.DEFAULT, serve_wiring.serve_deps())
    # Then nothing is enqueued and the key is not left in flight
    assert (job_, joined) == (None, False)
    assert aws.depth("InteractiveQueue") == 0
    assert serve_wiring.serve_deps().store.get_inflight(job_key(request), 0) is None


def job_key(request: ContentRequest) -> str:
    from pregen.domain.keys import cache_key

    return cache_key(request, Caller(sub="any"))


@pytest.mark.parametrize("stored", [None, " "])
def test_an_unreadable_key_parameter_fails_the_job_closed_and_retries_it(
    aws: Aws, stored: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the key's parameter is configured but absent from SSM, or holding only blanks
    if stored is not None:
        boto3.client("ssm").put_parameter(Name="/pregen/anthropic-api-key", Value=stored, Type="SecureString")
    settings = WorkerSettings.model_validate({**aws.env, "ANTHROPIC_API_KEY_PARAMETER": "/pregen/anthropic-api-key"})
    generator = make_generator(settings)
    assert isinstance(generator, KeyedGenerator)  # never the offline generator
    worker_wiring.worker_deps().generator = generator
    _, _, miss = get(LESSON)
    # When the worker takes the job
    result = run_worker(aws, max_batches=1)
    # Then the delivery failed (SQS brings it back), the job waits for a retry with the reason, nothing is stored
    assert result[0]["batchItemFailures"]
    current = job(miss["job_id"])
    assert current["status"] == "queued"
    assert "could not be read" in current["reason"]
    status, _, again = get(LESSON)
    assert status == 202 and again["job_id"] == miss["job_id"]
    # And the metric AnthropicKeyAlarm watches went out
    assert '"AnthropicKeyUnreadable"' in capsys.readouterr().out


def test_a_key_that_reads_later_generates_with_claude_without_a_new_container(aws: Aws) -> None:
    settings = WorkerSettings.model_validate({**aws.env, "ANTHROPIC_API_KEY_PARAMETER": "/pregen/anthropic-api-key"})
    generator = make_generator(settings)
    assert isinstance(generator, KeyedGenerator)
    generator._reread_s = 0  # every call reads again (the worker's default: one read per 5 s while it fails)
    with pytest.raises(KeyUnavailable):
        generator.resolved()
    # Once the parameter exists, the next call reads it and builds the Claude generator
    boto3.client("ssm").put_parameter(Name="/pregen/anthropic-api-key", Value="sk-test", Type="SecureString")
    assert generator.resolved().name == "anthropic"


def test_without_any_key_configured_content_is_offline_and_says_so(aws: Aws) -> None:
    # Given no key and no key parameter (the template's default)
    settings = WorkerSettings.model_validate({**aws.env, "ANTHROPIC_API_KEY_PARAMETER": ""})
    generator = make_generator(settings)
    assert isinstance(generator, OfflineGenerator)
    worker_wiring.worker_deps().generator = generator
    get(LESSON)
    run_worker(aws)
    # Then the served answer marks the content as the offline generator's
    status, _, served = get(LESSON)
    assert status == 200
    assert served["meta"]["generator"] == "offline"


def test_a_job_shows_generating_while_the_model_works(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Watching(CountingGenerator):
        def generate(
            self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
        ) -> Generation:
            time.sleep(0.2)  # the mark goes out with the call; a moment later it has landed
            seen.append(job(current["job_id"])["status"])
            return super().generate(request, feedback, max_calls=max_calls)

    use_generator(Watching())
    _, _, current = get(LESSON)
    run_worker(aws)
    assert seen == ["generating"]
    assert job(current["job_id"])["status"] == "done"


def test_a_failure_is_never_overwritten_by_the_generating_mark(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # The model refuses at once while the mark is still on its way: the job must end failed, not generating.
    use_generator(CountingGenerator(fail_times=10, failure=GenerationFailed("the model refused", retryable=False)))
    jobs = worker_wiring.worker_deps().jobs
    real = jobs.set_status

    def slow_mark(job_id: str, status: JobStatus, now: float, **kwargs: Any) -> None:
        if status is JobStatus.GENERATING:
            time.sleep(0.3)
        real(job_id, status, now, **kwargs)

    monkeypatch.setattr(jobs, "set_status", slow_mark)
    _, _, miss = get(LESSON)
    run_worker(aws)
    time.sleep(0.5)  # a mark still on its way would have landed by now
    failed = job(miss["job_id"])
    assert failed["status"] == "failed"
    assert "refused" in failed["reason"]


def test_a_job_dead_lettered_by_crashes_is_failed_and_its_key_freed(aws: Aws) -> None:
    from pregen.services.schedules import ScheduleEvent, run_schedule
    from pregen.wiring import cron as cron_wiring

    clock = freeze(1_900_000_000)
    cron = cron_wiring.cron_deps()
    cron.clock = clock
    _, _, miss = get(LESSON)
    # Every delivery crashed: no worker code ran, and SQS moved the message to the lane's dead-letter queue.
    lane, dlq = aws.queue_url("InteractiveQueue"), aws.queue_url("InteractiveDeadLetterQueue")
    (message,) = aws.sqs.receive_message(QueueUrl=lane)["Messages"]
    aws.sqs.send_message(QueueUrl=dlq, MessageBody=message["Body"])
    aws.sqs.delete_message(QueueUrl=lane, ReceiptHandle=message["ReceiptHandle"])
    assert job(miss["job_id"])["status"] == "queued"
    assert get(LESSON)[2]["job_id"] == miss["job_id"]  # learners keep joining a job nothing will finish

    clock.advance(60)  # within a lease of the job's last change: a live delivery could still be at work
    assert run_schedule(ScheduleEvent(task="dead_letters"), cron)["settled"] == 0
    clock.advance(LEASE_SECONDS)  # past a lease (pregen.domain.work_budget)
    summary = run_schedule(ScheduleEvent(task="dead_letters"), cron)
    assert (summary["seen"], summary["settled"]) == (1, 1)
    failed = job(miss["job_id"])
    assert failed["status"] == "failed" and "dead-lettered" in failed["reason"]
    assert aws.depth("InteractiveDeadLetterQueue") == 1  # still there, for a redrive
    _, _, again = get(LESSON)
    assert again["job_id"] != miss["job_id"] and again["joined"] is False  # the key is free
    assert run_schedule(ScheduleEvent(task="dead_letters"), cron)["settled"] == 0  # once


def test_each_invocation_holds_its_leases_under_its_own_request_id(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given one message delivered to two invocations at once (two environments on Lambda; two threads here)
    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker
    from pregen.services import generation  # the content kind's work (pregen.services.work_kinds)

    get(LESSON)
    url, arn = aws.queue_url("InteractiveQueue"), aws.resources.queue_arns["InteractiveQueue"]
    (message,) = aws.sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    holders: dict[str, str] = {}
    overlap = threading.Barrier(2, timeout=10)
    generate = generation.generate_job

    def generating(*args: Any, **kwargs: Any) -> str:
        holders[threading.current_thread().name] = kwargs["worker_id"]
        overlap.wait()  # both invocations are inside their record at once
        return generate(*args, **kwargs)

    monkeypatch.setattr(generation, "generate_job", generating)

    def invoke(request_id: str) -> None:
        context = LambdaContext(function_name="worker", timeout_s=WORKER_TIMEOUT_S, aws_request_id=request_id)
        worker.lambda_handler({"Records": [to_lambda_record(message, arn)]}, context)

    threads = [threading.Thread(target=invoke, args=(f"req-{n}",), name=f"req-{n}") for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each names its own invocation and the record as the lease's holder: two holders, never one
    assert holders == {f"req-{n}": f"req-{n}:{message['MessageId']}" for n in (1, 2)}
