"""Background work through the Message Batches API, against moto and the fake Anthropic server: chunks submitted
with one custom_id per job, results matched back to their jobs out of order and partly failed, failures falling
back to direct calls, and a learner who asks for a batched key served at once, never waiting for the batch."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import pytest

from aws_emulator.runtime import LambdaContext
from functions.cron import app as cron
from functions.get_content import app as get_content
from functions.pre_generate import app as pre_generate
from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.counters import Metric, name
from pregen.domain.errors import ProviderThrottled
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest, Kind, TokenUsage
from pregen.domain.pricing import default_prices
from pregen.domain.schemas import schema_for
from pregen.services.batches import custom_id_for
from pregen.services.usage import day_of
from pregen.wiring import worker as worker_wiring
from pregen_fakes.fake_anthropic import FakeAnthropic, Reply, Usage, running_fake_anthropic
from tests.conftest import load_event
from tests.integration.conftest import (
    api_event,
    call,
    deliver_twice_at_once,
    freeze,
    message_batches_on,
    received_once,
    run_worker,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pregen.domain.clock import FrozenClock
    from tests.integration.conftest import Aws

TOPICS = ["Atoms", "Ions", "Bonds", "Moles", "Gases"]


def lesson(topic: str) -> dict[str, str]:
    return {"kind": "lesson", "subject": "Chemistry", "topic": topic, "grade": "9"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The worker and the cron function talk to the fake, with Message Batches on for the background lane."""
    yield from message_batches_on(server, monkeypatch)


def warm(topics: list[str]) -> list[str]:
    """Pre-generate lessons at warming priority (the background lane) as an admin; the job ids, in order."""
    body = {"priority": 30, "requests": [lesson(t) for t in topics]}
    status, _, answer = call(pre_generate, api_event("pregenerate.json", sub="ops", role="admin", body=body))
    assert status == 202
    return [r["job_id"] for r in answer["results"]]


def job(job_id: str) -> dict[str, Any]:
    event = api_event(
        "get_job.json", sub="ops", role="admin", path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id}
    )
    return call(get_content, event)[2]


def collect() -> dict[str, Any]:
    result: dict[str, Any] = cron.lambda_handler(
        load_event("cron_collect_batches.json"), LambdaContext(function_name="cron", timeout_s=300)
    )
    return result


def stored_body(topic: str) -> dict[str, Any] | None:
    request = ContentRequest.model_validate(lesson(topic))
    content = worker_wiring.worker_deps().store.get_content(
        cache_key(request, Caller(sub="ops")), worker_wiring.worker_deps().clock.now(), consistent=True
    )
    return content.body if content else None


def expected_body(topic: str) -> dict[str, Any]:
    request = ContentRequest.model_validate(lesson(topic))
    return schema_for(Kind.LESSON).model_validate(OfflineGenerator().generate(request).body).model_dump(mode="json")


def test_background_jobs_go_to_one_batch_and_results_are_matched_back_out_of_order_and_partly_failed(
    aws: Aws, fake: FakeAnthropic
) -> None:
    # Given five warming jobs in the background lane, three of which the batch will fail in different ways
    job_ids = warm(TOPICS)
    fake.batch_fault(custom_id_for(job_ids[1]), "errored")
    fake.batch_fault(custom_id_for(job_ids[2]), "expired")
    fake.batch_fault(custom_id_for(job_ids[3]), "missing")

    # When the worker takes the background lane
    results = run_worker(aws, "BackgroundQueue")

    # Then the chunk went out as ONE Message Batch, one custom_id per job, and no direct call was made
    assert all(r["batchItemFailures"] == [] for r in results)
    assert [r.path for r in fake.requests] == ["/v1/messages/batches"]
    (batch_id,) = fake.batches
    submitted = [r["custom_id"] for r in fake.requests[0].body["requests"]]
    assert sorted(submitted) == sorted(custom_id_for(j) for j in job_ids)
    assert all(len(c) <= 64 for c in submitted)
    # ...every request cached the shared handbook for an hour and asked for the kind's schema
    params = fake.requests[0].body["requests"][0]["params"]
    assert params["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert params["output_config"]["format"]["type"] == "json_schema"
    # ...the jobs wait, queued, naming their batch, and the lane is empty (nothing dead-lettered)
    assert all(job(j)["status"] == "queued" and batch_id in job(j)["reason"] for j in job_ids)
    assert aws.depth("BackgroundQueue") == 0
    assert aws.depth("BackgroundDeadLetterQueue") == 0
    # ...and the provider streams results in another order than submitted
    streamed = [line["custom_id"] for line in fake.batches[batch_id]["results"]]
    assert streamed != [c for c in submitted if c in streamed]

    # When the schedule collects the batch
    summary = collect()

    # Then each succeeded result is stored for ITS job: the content of that job's own request
    assert summary["stored"] == 2
    assert summary["fell_back"] == 3
    for index in (0, 4):
        assert job(job_ids[index])["status"] == "done"
        assert stored_body(TOPICS[index]) == expected_body(TOPICS[index])
    # ...and the errored, expired and missing ones are back in the background lane for a direct call
    assert aws.depth("BackgroundQueue") == 3
    for index in (1, 2, 3):
        shown = job(job_ids[index])
        assert shown["status"] == "queued"
        assert "falling back to a direct call" in shown["reason"]

    # When the worker takes the fallbacks
    run_worker(aws, "BackgroundQueue")

    # Then they were generated directly (no second batch), each for its own request, and every job is done
    assert len(fake.batches) == 1
    assert [r.path for r in fake.requests[1:]] == ["/v1/messages"] * 3
    for index, topic in enumerate(TOPICS):
        assert job(job_ids[index])["status"] == "done"
        assert stored_body(topic) == expected_body(topic)
    # And collecting again finds nothing open
    assert collect()["batches_collected"] == 0


def test_a_learner_never_waits_for_a_batch(aws: Aws, fake: FakeAnthropic) -> None:
    # Given a warming job sitting in a batch the provider has not finished
    fake.hold_batches = True
    (job_id,) = warm(["Atoms"])
    run_worker(aws, "BackgroundQueue")
    assert collect()["batches_open"] == 1

    # When a learner asks for that very lesson
    status, _, miss = call(get_content, api_event("get_content.json", sub="lee", query=lesson("Atoms")))

    # Then they join the job, which is sent to the interactive lane and generated directly at once
    assert status == 202
    assert miss["job_id"] == job_id
    assert miss["joined"] is True
    run_worker(aws, "InteractiveQueue")
    status, headers, _ = call(get_content, api_event("get_content.json", sub="lee", query=lesson("Atoms")))
    assert (status, headers["x-cache"]) == (200, "HIT")
    assert fake.requests[-1].path == "/v1/messages"

    # And when the batch ends later, its answer is not needed: counted as superseded, the content stays
    fake.hold_batches = False
    summary = collect()
    assert summary["superseded"] == 1
    assert summary["stored"] == 0
    assert job(job_id)["status"] == "done"


def test_a_batch_answer_read_before_a_direct_store_is_not_stored_a_second_time(
    aws: Aws, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a warming job in a batch, promoted by a learner's miss and generated directly, and a collection whose
    # read of the key came just before that direct store (a race bench.faults --stack --batches met)
    fake.hold_batches = True
    (job_id,) = warm(["Atoms"])
    run_worker(aws, "BackgroundQueue")
    call(get_content, api_event("get_content.json", sub="lee", query=lesson("Atoms")))
    run_worker(aws, "InteractiveQueue")
    direct = stored_body("Atoms")
    assert direct is not None
    store_class = type(worker_wiring.batch_deps().worker.store)  # type: ignore[union-attr]
    read = store_class.get_content

    def read_before_the_direct_store(self: Any, key: str, now: float, *, consistent: bool = False) -> Any:
        return None  # what the collection read an instant before the direct generation stored the key

    monkeypatch.setattr(store_class, "get_content", read_before_the_direct_store)
    # When the batch ends and is collected
    fake.hold_batches = False
    summary = collect()
    monkeypatch.setattr(store_class, "get_content", read)
    # Then the lease's own check finds the content: the batch answer is superseded, nothing stored again
    assert (summary["superseded"], summary["stored"]) == (1, 0)
    assert job(job_id)["status"] == "done"
    assert stored_body("Atoms") == direct


def test_a_batch_answer_is_priced_at_the_batch_rate_from_all_four_token_kinds(fake: FakeAnthropic) -> None:
    # Given a batch answer on the small model with every token kind
    generator = AnthropicGenerator(
        api_key="sk-test-fake",
        model_for=lambda kind: "claude-haiku-5-5",
        prices=default_prices(),
        base_url=fake.base_url,
    )
    request = ContentRequest.model_validate(lesson("Atoms"))
    usage = Usage(
        input_tokens=1_000,
        output_tokens=2_000,
        cache_creation_input_tokens=3_000,
        cache_read_input_tokens=4_000,
        cache_write_1h_tokens=3_000,
    )
    fake.script([Reply.offline(usage=usage)])
    batch_id = generator.submit_batch([("only-one", request)])

    # When its result is read
    (outcome,) = list(generator.batch_results(batch_id, {"only-one": request}))

    # Then haiku: 1,000 x 1 + 2,000 x 5 + 3,000 x 2 (1-hour writes) + 4,000 x 0.1 = 17,400 per million = 0.0174,
    # and the batch discount halves it: 0.0087
    assert outcome.generation is not None
    assert outcome.generation.usage == TokenUsage(
        input_tokens=1_000, output_tokens=2_000, cache_creation_input_tokens=3_000, cache_read_input_tokens=4_000
    )
    assert outcome.generation.cost_usd == pytest.approx(0.0087)
    assert outcome.spent_usd == pytest.approx(0.0087)


def test_an_invalid_batch_answer_falls_back_with_its_cost_counted(fake: FakeAnthropic) -> None:
    generator = AnthropicGenerator(
        api_key="sk-test-fake",
        model_for=lambda kind: "claude-haiku-5-5",
        prices=default_prices(),
        base_url=fake.base_url,
    )
    request = ContentRequest.model_validate(lesson("Ions"))
    fake.script([Reply.invalid_offline(usage=Usage(input_tokens=1_000, output_tokens=1_000))])
    batch_id = generator.submit_batch([("bad", request)])
    (outcome,) = list(generator.batch_results(batch_id, {"bad": request}))
    assert outcome.generation is None
    assert outcome.error is not None
    assert outcome.error.startswith("invalid")
    # (1,000 x 1 + 1,000 x 5) / 1e6 x 0.5
    assert outcome.spent_usd == pytest.approx(0.003)


def test_throttling_that_outlives_the_sdk_retries_is_reported_as_throttled_with_retry_after(
    fake: FakeAnthropic,
) -> None:
    generator = AnthropicGenerator(
        api_key="sk-test-fake",
        model_for=lambda kind: "claude-haiku-5-5",
        prices=default_prices(),
        base_url=fake.base_url,
        max_retries=0,
    )
    fake.script([Reply.rate_limited(retry_after=7)])
    with pytest.raises(ProviderThrottled) as raised:
        generator.generate(ContentRequest.model_validate(lesson("Bonds")))
    assert raised.value.retry_after == 7
    fake.script([Reply.overloaded()])
    with pytest.raises(ProviderThrottled):
        generator.generate(ContentRequest.model_validate(lesson("Bonds")))


def test_custom_ids_are_unique_and_within_the_providers_limits() -> None:
    assert custom_id_for("0123456789abcdef0123456789abcdef") == "0123456789abcdef0123456789abcdef"
    long_id = "x" * 100
    assert len(custom_id_for(long_id)) <= 64
    assert custom_id_for(long_id) != custom_id_for(long_id + "y")
    assert json.dumps(custom_id_for("job/with:odd chars")).isascii()


def test_a_batch_generation_records_its_real_latency_apart_from_direct_calls(aws: Aws, fake: FakeAnthropic) -> None:
    # Given a warming job submitted to a Message Batch at a known time, and collected 40 minutes later
    clock = freeze(2_000_000_000.0)
    (job_id,) = warm(["latency"])
    run_worker(aws, "BackgroundQueue")
    clock.advance(2400)
    assert collect()["stored"] == 1
    # Then the stored figures say how long the learner would have waited: submission to result
    assert job(job_id)["status"] == "done"
    request = ContentRequest.model_validate(lesson("latency"))
    content = worker_wiring.worker_deps().store.get_content(
        cache_key(request, Caller(sub="ops")), clock.now(), consistent=True
    )
    assert content is not None
    assert content.meta["latency_ms"] == 2_400_000
    # And analytics shows batch latencies apart from direct calls'
    from functions.analytics import app as analytics_app

    day = dt.datetime.fromtimestamp(clock.now(), tz=dt.UTC).date().isoformat()
    event = api_event("analytics.json", sub="ops", role="admin", query={"from": day, "to": day})
    status, _, figures = call(analytics_app, event)
    assert status == 200
    latency = figures["latencyMs"]
    assert latency["lesson.batch"]["mean"] == 2_400_000
    assert latency.get("lesson", {"mean": None})["mean"] is None  # no direct call was timed


def test_a_background_job_delivered_again_after_its_submission_is_not_batched_twice(
    aws: Aws, fake: FakeAnthropic
) -> None:
    from aws_emulator.poller import to_lambda_record
    from functions.worker import app as worker

    # Given two warming jobs whose delivery was submitted to a batch, and then came back (its invocation died after
    # the submission, or SQS delivered it twice)
    job_ids = warm(TOPICS[:2])
    url = aws.queue_url("BackgroundQueue")
    messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    records = [to_lambda_record(m, aws.resources.queue_arns["BackgroundQueue"]) for m in messages["Messages"]]
    worker.lambda_handler({"Records": records}, LambdaContext(function_name="worker", timeout_s=900))
    for m in messages["Messages"]:
        aws.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    # When the worker gets them again
    results = run_worker(aws, "BackgroundQueue")
    # Then they were submitted once: one batch, no direct call, the jobs waiting in it, the lane empty
    assert all(r["batchItemFailures"] == [] for r in results)
    assert [r.path for r in fake.requests] == ["/v1/messages/batches"]
    (reason,) = {job(j)["reason"] for j in job_ids}
    assert reason == f"in message batch {fake.requests[0].response['id']}"
    assert aws.depth("BackgroundQueue") == 0
    # And the batch's collection stores each once
    collect()
    assert [job(j)["status"] for j in job_ids] == ["done", "done"]


def _delayed(aws: Aws) -> int:
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=aws.queue_url("BackgroundQueue"), AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessagesDelayed"]) + aws.depth("BackgroundQueue")


def test_two_deliveries_of_one_message_at_the_same_moment_put_its_jobs_in_one_batch(
    aws: Aws, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two warming jobs whose message is delivered twice at once (SQS's at-least-once delivery), the two
    # invocations reading each job's key at the same moment, before either has submitted anything
    job_ids = warm(TOPICS[:2])
    records = received_once(aws)
    results = deliver_twice_at_once(records, worker_wiring.worker_deps().store, "get_content", monkeypatch)
    # Then the batches hold each job exactly once (each delivery claims the jobs side by side, so each may win one
    # of them and submit it in a batch of its own), no direct call was made, both deliveries succeeded
    assert {r.path for r in fake.requests} == {"/v1/messages/batches"}
    submitted = [entry["custom_id"] for r in fake.requests for entry in r.body["requests"]]
    assert sorted(submitted) == sorted(custom_id_for(j) for j in job_ids)
    assert [r["batchItemFailures"] for r in results] == [[], []]
    batch_of = {entry["custom_id"]: r.response["id"] for r in fake.requests for entry in r.body["requests"]}
    assert {job(j)["reason"] for j in job_ids} == {f"in message batch {batch_of[custom_id_for(j)]}" for j in job_ids}
    # And the losing delivery handed its copies back (not acknowledged and forgotten: its claimer might have died)
    assert _delayed(aws) == len(job_ids)
    # And the batch's collection stores each once
    collect()
    assert [job(j)["status"] for j in job_ids] == ["done", "done"]


def test_a_claim_whose_claimer_died_before_submitting_expires_and_a_later_delivery_takes_it_over(
    aws: Aws, fake: FakeAnthropic
) -> None:
    from functions.worker import app as worker

    # Given a warming job claimed for a batch by an invocation that died before it submitted anything
    clock = freeze(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC).timestamp())
    (job_id,) = warm(TOPICS[:1])
    records = received_once(aws)
    deps = worker_wiring.worker_deps()
    lease = deps.policy.lease_seconds
    assert deps.jobs.claim_for_batch(job_id, "dead-invocation", clock.now(), clock.now() + lease).won

    def deliver() -> dict[str, Any]:
        result: dict[str, Any] = worker.lambda_handler(
            {"Records": records}, LambdaContext(function_name="worker", timeout_s=900)
        )
        return result

    # When its message comes back while the claim still runs: handed back for the rest of the claim, not submitted
    clock.advance(lease - 5)
    assert deliver()["batchItemFailures"] == []
    assert fake.requests == []
    assert _delayed(aws) == 1
    # When it comes back after the claim has expired: this delivery claims it and submits it
    clock.advance(10)
    assert deliver()["batchItemFailures"] == []
    assert [r.path for r in fake.requests] == ["/v1/messages/batches"]
    assert job(job_id)["reason"] == f"in message batch {fake.requests[0].response['id']}"
    # And once submitted no delivery claims it again, however late
    clock.advance(10 * lease)
    assert not deps.jobs.claim_for_batch(job_id, "another", clock.now(), clock.now() + lease).won
    deliver()
    assert len(fake.requests) == 1


# -- a promoted job whose batch may have answered already --------------------------------------------------------


def batched_then_promoted(aws: Aws, topic: str, *, before_submission: Callable[[str], None] | None = None) -> str:
    """A warming job submitted to a Message Batch, then joined by a learner's miss, which promotes it to the
    interactive lane; its job id. ``before_submission``: called with the job id before the batch is submitted."""
    (job_id,) = warm([topic])
    if before_submission is not None:
        before_submission(job_id)
    run_worker(aws, "BackgroundQueue")
    status, _, miss = call(get_content, api_event("get_content.json", sub="lee", query=lesson(topic)))
    assert (status, miss["job_id"], miss["joined"]) == (202, job_id, True)
    return job_id


def day_counts(clock: FrozenClock) -> dict[str, float]:
    day = day_of(clock.now())
    return worker_wiring.worker_deps().counters.read_days([day]).get(day, {})


def stored_meta(topic: str, now: float) -> dict[str, Any]:
    content = worker_wiring.worker_deps().store.get_content(
        cache_key(ContentRequest.model_validate(lesson(topic)), Caller(sub="ops")), now, consistent=True
    )
    assert content is not None
    return content.meta


def test_a_promoted_job_whose_batch_has_ended_is_stored_from_its_batch_answer_without_a_model_call(
    aws: Aws, fake: FakeAnthropic
) -> None:
    # Given a warming job in a batch that has ended (the fake ends batches at once), promoted by a learner's miss
    clock = freeze(2_000_000_000.0)
    job_id = batched_then_promoted(aws, "Atoms")

    # When the interactive lane's worker takes it
    results = run_worker(aws, "InteractiveQueue")

    # Then the batch's answer is stored: no model call beyond the batch, the job done, the learner served
    assert [r["batchItemFailures"] for r in results] == [[]]
    assert [r.path for r in fake.requests] == ["/v1/messages/batches"]
    assert job(job_id)["status"] == "done"
    assert stored_body("Atoms") == expected_body("Atoms")
    meta = stored_meta("Atoms", clock.now())
    assert (meta["batch"], meta["job_id"]) == (True, job_id)
    status, headers, _ = call(get_content, api_event("get_content.json", sub="lee", query=lesson("Atoms")))
    assert (status, headers["x-cache"]) == (200, "HIT")

    # When the schedule collects the batch afterwards
    summary = collect()

    # Then it finds that answer collected: not stored again, not counted as wasted; its cost counted once
    assert (summary["collected"], summary["stored"], summary["superseded"]) == (1, 0, 0)
    assert stored_body("Atoms") == expected_body("Atoms")
    counts = day_counts(clock)
    assert counts[name(Metric.GENERATED, "lesson")] == 1
    assert counts[name(Metric.BATCH_SUCCEEDED, "lesson")] == 1
    assert counts[name(Metric.COST_USD, "lesson")] == pytest.approx(meta["cost_usd"])
    assert meta["cost_usd"] > 0
    assert counts.get(name(Metric.WASTED_COST_USD, "lesson"), 0) == 0


def test_a_promoted_job_whose_batch_is_still_running_is_generated_directly_and_the_batch_answer_superseded(
    aws: Aws, fake: FakeAnthropic
) -> None:
    # Given a warming job in a batch the provider has not finished, promoted by a learner's miss
    clock = freeze(2_000_000_000.0)
    fake.hold_batches = True
    job_id = batched_then_promoted(aws, "Atoms")

    # When the interactive lane's worker takes it
    run_worker(aws, "InteractiveQueue")

    # Then it asked the batch, found it running and generated directly: the learner does not wait for the batch
    assert [r.path for r in fake.requests] == ["/v1/messages/batches", "/v1/messages"]
    assert job(job_id)["status"] == "done"
    direct = stored_meta("Atoms", clock.now())
    assert "batch" not in direct

    # When the batch ends and is collected
    fake.hold_batches = False
    summary = collect()

    # Then its answer is superseded: the content stored once (the direct one), the batch answer counted as wasted
    assert (summary["superseded"], summary["collected"], summary["stored"]) == (1, 0, 0)
    assert stored_meta("Atoms", clock.now()) == direct
    counts = day_counts(clock)
    assert counts[name(Metric.GENERATED, "lesson")] == 1
    wasted = counts[name(Metric.WASTED_COST_USD, "lesson")]
    assert wasted > 0
    assert counts[name(Metric.COST_USD, "lesson")] == pytest.approx(direct["cost_usd"] + wasted)


@pytest.mark.parametrize("answer", ["errored", "invalid"])
def test_a_promoted_job_whose_batch_answer_errored_or_is_invalid_is_generated_directly(
    aws: Aws, fake: FakeAnthropic, answer: str
) -> None:
    # Given a warming job in an ended batch whose answer for it errored, or is invalid, promoted by a learner's miss
    clock = freeze(2_000_000_000.0)

    def spoil(job_id: str) -> None:
        if answer == "errored":
            fake.batch_fault(custom_id_for(job_id), "errored")
        else:
            fake.script([Reply.invalid_offline(usage=Usage(input_tokens=1_000, output_tokens=1_000))])

    job_id = batched_then_promoted(aws, "Atoms", before_submission=spoil)

    # When the interactive lane's worker takes it
    run_worker(aws, "InteractiveQueue")

    # Then it was generated directly, and stored once
    assert [r.path for r in fake.requests] == ["/v1/messages/batches", "/v1/messages"]
    assert job(job_id)["status"] == "done"
    assert stored_body("Atoms") == expected_body("Atoms")
    assert "batch" not in stored_meta("Atoms", clock.now())

    # And the collection finds the key stored: nothing falls back, nothing is stored again
    summary = collect()
    assert (summary["superseded"], summary["fell_back"], summary["stored"], summary["collected"]) == (1, 0, 0, 0)
    assert aws.depth("BackgroundQueue") == 0
    counts = day_counts(clock)
    assert counts[name(Metric.GENERATED, "lesson")] == 1
    # ...and an invalid answer, billed, is counted as wasted (an errored one was not billed)
    wasted = counts.get(name(Metric.WASTED_COST_USD, "lesson"), 0)
    assert (wasted > 0) is (answer == "invalid")


def test_a_job_promoted_before_its_submission_is_not_batched_and_answered_once(aws: Aws, fake: FakeAnthropic) -> None:
    # Given a warming job that a learner's miss promotes to the interactive lane while it still waits in the
    # background lane
    clock = freeze(2_000_000_000.0)
    (job_id,) = warm(["Atoms"])
    status, _, miss = call(get_content, api_event("get_content.json", sub="lee", query=lesson("Atoms")))
    assert (status, miss["job_id"], miss["joined"]) == (202, job_id, True)

    # When the background lane's worker takes its first copy, then the interactive lane's its promoted one
    run_worker(aws, "BackgroundQueue")
    run_worker(aws, "InteractiveQueue")

    # Then it went into no batch (no batch created): one direct call answered it, stored once, the job done, both
    # lanes empty
    assert [r.path for r in fake.requests] == ["/v1/messages"]
    assert job(job_id)["status"] == "done"
    assert stored_body("Atoms") == expected_body("Atoms")
    assert day_counts(clock)[name(Metric.GENERATED, "lesson")] == 1
    assert aws.depth("BackgroundQueue") == aws.depth("InteractiveQueue") == 0
