"""The serving flow against moto: miss → job → worker → hit, joins, expiry, ownership and bad input."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from unittest import mock

import pytest
from botocore.client import BaseClient

from aws_emulator.runtime import LambdaContext
from functions.get_content import app as get_content
from functions.pre_generate import app as pre_generate
from functions.usage_aggregator import app as usage_aggregator
from pregen import usage_log
from pregen.adapters.hot_content import HotContentStore
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import Aws, api_event, call, deliver_usage_lines, run_worker

LESSON = {"kind": "lesson", "subject": "Python", "topic": "Variables", "grade": "10"}


def get(query: dict[str, str], sub: str = "alice", role: str = "student") -> tuple[int, dict[str, str], Any]:
    return call(get_content, api_event("get_content.json", sub=sub, role=role, query=query))


def get_job(job_id: str, sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    event = api_event("get_job.json", sub=sub, path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id})
    return call(get_content, event)


def test_miss_then_generate_then_hit(aws: Aws) -> None:
    # Given an empty cache, when a learner asks for a lesson
    status, headers, body = get(LESSON)
    # Then the answer is 202 with a job to follow
    assert status == 202
    assert headers["x-cache"] == "MISS"
    assert headers["location"] == f"/v1/jobs/{body['job_id']}"
    assert int(headers["retry-after"]) >= 1
    assert body["status"] == "queued"
    # When the worker runs the queue
    run_worker(aws)
    # Then the job is done and carries the content
    status, _, job = get_job(body["job_id"])
    assert status == 200
    assert job["status"] == "done"
    assert job["content"]["content"]["title"]
    assert job["content"]["meta"]["generator"] == "offline"
    # And the same request, spelled differently, is now a hit
    status, headers, hit = get({**LESSON, "subject": "python ", "topic": "variables"})
    assert status == 200
    assert headers["x-cache"] == "HIT"
    assert hit["key"] == body["key"]
    assert hit["content"] == job["content"]["content"]


def test_a_second_miss_joins_the_job_in_flight(aws: Aws) -> None:
    _, _, first = get(LESSON)
    _, _, second = get(LESSON, sub="bob")
    assert second["job_id"] == first["job_id"]
    assert second["joined"] is True
    assert aws.depth("InteractiveQueue") == 1


def _lines(aws: Aws, usage: str) -> list[str]:
    """The keys of the usage lines of one kind (hit, miss) printed so far."""
    return [line["key"] for line in map(json.loads, aws.usage_lines) if line["usage"] == usage]


def _spy_requests() -> tuple[list[str], Any]:
    """Every DynamoDB request as ``Operation:pk-or-sk`` (sk for content-table items; a transaction: one entry per
    item), and the patch that records."""
    requests: list[str] = []
    original = BaseClient._make_api_call

    def spy(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        items = params.get("TransactItems")
        bodies = [next(iter(i.values())) for i in items] if items else [params]
        keys = [body.get("Key") or body.get("Item") or {} for body in bodies]
        for key in keys:
            pk, sk = key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")
            requests.append(f"{operation}:{sk if sk in {'content', 'inflight', 'alias'} else pk.split('#')[0]}")
        return original(self, operation, params)

    return requests, mock.patch.object(BaseClient, "_make_api_call", spy)


def _counter_items(aws: Aws) -> list[dict[str, Any]]:
    return aws.dynamodb.scan(TableName=aws.resources.tables["CountersTable"])["Items"]


def test_a_won_miss_is_enqueued_after_three_requests(aws: Aws) -> None:
    get({**LESSON, "topic": "Warm-up"})  # the environment has read the day's spend (at most once per 30 s)
    requests, spying = _spy_requests()
    # When a learner misses a key nobody has asked for
    with spying:
        status, headers, body = get(LESSON)
    # Then three requests: the cache read; one transaction that checks the content and the wording's alias, claims
    # the key, records the job and charges the allowance; the send
    assert (status, body["joined"]) == (202, False)
    claim = [f"TransactWriteItems:{item}" for item in ("content", "alias", "inflight", "job", "limit")]
    assert requests == ["GetItem:content", *claim, "SendMessage:"]
    # And the charge was counted (the learner's item holds it) and reported
    [limit] = [item for item in _counter_items(aws) if item["pk"]["S"] == "limit#alice"]
    charged = int(headers["ratelimit-limit"]) - int(headers["ratelimit-remaining"])
    assert int(limit["used"]["N"]) == charged > 0


def test_a_joined_miss_reads_the_marker_not_the_job_and_writes_no_day_counter(aws: Aws) -> None:
    _, _, first = get(LESSON)
    requests, spying = _spy_requests()
    # When a second learner misses the same key (and joins its job)
    with spying:
        _, _, second = get(LESSON, sub="bob")
    # Then it made two requests: the cache read and the claim (checking the wording's alias, charging bob's
    # allowance: cancelled on the marker, whose old item names the job, so nothing is written and bob is charged
    # nothing), no read of the alias, the marker or the job, no write of the day's counter
    assert (second["joined"], second["job_id"], second["status"]) == (True, first["job_id"], "queued")
    claim = [f"TransactWriteItems:{item}" for item in ("content", "alias", "inflight", "job", "limit")]
    assert requests == ["GetItem:content", *claim]
    assert [item for item in _counter_items(aws) if item["pk"]["S"] == "limit#bob"] == []
    # And each miss printed one miss line
    assert _lines(aws, "miss") == [first["key"], first["key"]]
    # And once the lines are delivered, the day counts both misses, even if delivered again
    day = usage_log.misses_of([{"message": line} for line in aws.usage_lines]).popitem()[0]
    event = deliver_usage_lines(aws)
    usage_aggregator.lambda_handler(event, LambdaContext(function_name="usage", timeout_s=60))
    assert serve_wiring.serve_deps().counters.read_days([day])[day]["misses#lesson"] == 2  # type: ignore[attr-defined]


def test_a_marker_older_than_a_job_record_lives_is_checked_and_a_gone_job_is_taken_over(aws: Aws) -> None:
    _, _, first = get(LESSON)
    # Given the key's marker was claimed more than the job TTL ago (a job held in flight for days) and its job
    # record is gone
    table = aws.resources.tables["ContentTable"]
    aws.dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": first["key"]}, "sk": {"S": "inflight"}},
        UpdateExpression="SET claimed_at = :long_ago",
        ExpressionAttributeValues={":long_ago": {"N": str(time.time() - 30 * 86_400)}},
    )
    aws.dynamodb.delete_item(
        TableName=aws.resources.tables["JobsTable"], Key={"pk": {"S": f"job#{first['job_id']}"}, "sk": {"S": "job"}}
    )
    # When another learner misses
    status, _, second = get(LESSON, sub="bob")
    # Then the job was read, found gone, and the key taken over by a new job that will generate it
    assert status == 202
    assert (second["joined"], second["status"]) == (False, "queued")
    assert second["job_id"] != first["job_id"]
    assert get_job(second["job_id"], sub="bob")[0] == 200


def test_a_hit_is_one_getitem_and_is_counted_from_its_log_line(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOT_CACHE_SECONDS", "0")  # the DynamoDB path itself (the hot-key cache: the next test)
    _, _, miss = get(LESSON)
    run_worker(aws)
    store = serve_wiring.serve_deps().store
    calls: list[str] = []
    client = store.client  # type: ignore[attr-defined]
    original = client._make_api_call

    def spy(operation: str, params: dict[str, Any]) -> Any:
        calls.append(f"{operation}:{params.get('Key', {}).get('sk', {}).get('S', '')}")
        return original(operation, params)

    # When a learner asks twice
    with mock.patch.object(client, "_make_api_call", side_effect=spy):
        assert get(LESSON)[0] == 200
        assert get(LESSON)[0] == 200
    # Then each hit made one request, a read; each printed one hit line
    assert calls == ["GetItem:content", "GetItem:content"]
    assert _lines(aws, "hit") == [miss["key"], miss["key"]]
    assert store.get_stats(miss["key"])["hits"] == 0  # type: ignore[attr-defined]
    # And once the log subscription delivers the lines, the stats item counts both, even if delivered again
    event = deliver_usage_lines(aws)
    assert store.get_stats(miss["key"])["hits"] == 2  # type: ignore[attr-defined]
    usage_aggregator.lambda_handler(event, LambdaContext(function_name="usage", timeout_s=60))
    assert store.get_stats(miss["key"])["hits"] == 2  # type: ignore[attr-defined]


def test_a_hot_shared_item_is_answered_from_memory_and_still_counted(aws: Aws) -> None:
    # Given a shared lesson that was just read (the hot-key cache is on by default)
    _, _, miss = get(LESSON)
    run_worker(aws)
    assert get(LESSON)[0] == 200
    store = serve_wiring.serve_deps().store
    assert isinstance(store, HotContentStore)
    calls: list[str] = []
    client = store.inner.client  # type: ignore[attr-defined]  # the DynamoDB store it wraps
    original = client._make_api_call

    def spy(operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(operation, params)

    # When it is asked for again within HOT_CACHE_SECONDS
    with mock.patch.object(client, "_make_api_call", side_effect=spy):
        status, headers, _ = get(LESSON)
    # Then the answer is the same version, with no request to DynamoDB, and the hit is still logged
    assert status == 200
    assert calls == []
    assert headers["etag"] == f'"{store.version_of(miss["key"])}"'
    assert _lines(aws, "hit") == [miss["key"], miss["key"]]


def test_expired_content_is_never_served_even_before_ttl_deletes_it(aws: Aws) -> None:
    _, _, miss = get(LESSON)
    run_worker(aws)
    # Given the item's expiry has passed but DynamoDB has not deleted it
    for sk in ("content", "stats"):
        aws.dynamodb.update_item(
            TableName=aws.resources.tables["ContentTable"],
            Key={"pk": {"S": miss["key"]}, "sk": {"S": sk}},
            UpdateExpression="SET expires_at = :past",
            ExpressionAttributeValues={":past": {"N": "1000"}},
        )
    # Then the request is a miss again, and no hit was counted
    status, headers, _ = get(LESSON)
    assert status == 202
    assert headers["x-cache"] == "MISS"
    assert _lines(aws, "hit") == []
    assert _lines(aws, "miss") == [miss["key"], miss["key"]]


def test_personal_content_and_jobs_belong_to_their_owner(aws: Aws) -> None:
    personal = {**LESSON, "scope": "personal"}
    _, _, alice = get(personal, sub="alice")
    _, _, bob = get(personal, sub="bob")
    assert alice["key"] != bob["key"]
    assert alice["job_id"] != bob["job_id"]
    # Another learner cannot see alice's job; an admin can
    assert get_job(alice["job_id"], sub="bob")[0] == 404
    admin = api_event(
        "get_job.json",
        sub="ops",
        role="admin",
        path=f"/v1/jobs/{alice['job_id']}",
        path_parameters={"job_id": alice["job_id"]},
    )
    assert call(get_content, admin)[0] == 200
    # Shared jobs are visible to any learner
    _, _, shared = get(LESSON, sub="alice")
    assert get_job(shared["job_id"], sub="bob")[0] == 200


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"kind": "lesson"},
        {"kind": "podcast", "subject": "x"},
        {"kind": "question_set", "subject": "x"},
        {"kind": "question_set", "subject": "x", "question_type": "essay"},
        {"kind": "lesson", "subject": "x", "count": "many"},
        {"kind": "lesson", "subject": "x" * 500},
        {"kind": "exam", "subject": "x", "exam_type": "practice", "count": "9999"},
    ],
)
def test_bad_queries_get_a_400_json_error(aws: Aws, query: dict[str, str]) -> None:
    status, headers, body = get(query)
    assert status == 400
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"] == "invalid_request"
    assert aws.depth("InteractiveQueue") == 0


def test_unknown_job_is_404_and_bad_job_id_is_400(aws: Aws) -> None:
    assert get_job("0" * 32)[0] == 404
    assert get_job("bad!id")[0] == 400
    assert get_job("x" * 65)[0] == 400


def test_pregenerate_skips_cached_and_in_flight_keys(aws: Aws) -> None:
    # Given one key cached and one in flight
    get({"kind": "lesson", "subject": "Python", "topic": "Loops", "grade": "10"})
    run_worker(aws)
    _, _, in_flight = get({"kind": "lesson", "subject": "Python", "topic": "Functions", "grade": "10"})
    # When a batch asks for both, a new one, and the new one twice
    batch = {
        "priority": 30,
        "requests": [
            {"kind": "lesson", "subject": "Python", "topic": "Loops", "grade": "10"},
            {"kind": "lesson", "subject": "Python", "topic": "Functions", "grade": "10"},
            {"kind": "lesson", "subject": "Python", "topic": "Classes", "grade": "10"},
            {"kind": "lesson", "subject": "python", "topic": "classes ", "grade": "10"},
        ],
    }
    status, _, body = call(pre_generate, api_event("pregenerate.json", sub="t1", role="teacher", body=batch))
    # Then only the new key is enqueued, once, on the background lane (priority 30)
    assert status == 202
    statuses = [r["status"] for r in body["results"]]
    assert statuses == ["cached", "in_flight", "queued", "queued"]
    assert body["results"][1]["job_id"] == in_flight["job_id"]
    assert body["results"][2]["job_id"] == body["results"][3]["job_id"]
    assert aws.depth("BackgroundQueue") == 1


def test_a_batchs_keys_are_read_and_enqueued_side_by_side_and_answered_in_order(aws: Aws) -> None:
    # Given a batch of 12 new keys, one of them asked twice in another spelling
    topics = [f"Topic {i}" for i in range(12)]
    requests = [{"kind": "lesson", "subject": "Python", "topic": t, "grade": "10"} for t in topics]
    requests.append({"kind": "lesson", "subject": "python", "topic": "topic 3 ", "grade": "10"})
    deps = serve_wiring.serve_deps()
    store, claims = deps.store, deps.claims
    threads: dict[str, set[str]] = {"read": set(), "claim": set()}
    read, claim = store.get_content, claims.claim

    def reading(*args: Any, **kwargs: Any) -> Any:
        threads["read"].add(threading.current_thread().name)
        time.sleep(0.01)  # a round trip: the other keys' requests go out meanwhile
        return read(*args, **kwargs)

    def claiming(*args: Any, **kwargs: Any) -> Any:
        threads["claim"].add(threading.current_thread().name)
        time.sleep(0.01)
        return claim(*args, **kwargs)

    # When a teacher pre-generates it
    batch = {"priority": 30, "requests": requests}
    with (
        mock.patch.object(store, "get_content", side_effect=reading),
        mock.patch.object(claims, "claim", side_effect=claiming),
    ):
        status, _, body = call(pre_generate, api_event("pregenerate.json", sub="t1", role="teacher", body=batch))
    # Then each key is read and claimed on its own thread, several at once
    assert len(threads["read"]) > 1 and len(threads["claim"]) > 1
    # And the answers follow the requests: 12 jobs, the repeated key's answer naming its first spelling's job
    assert status == 202
    results = body["results"]
    assert [r["status"] for r in results] == ["queued"] * 13
    assert len({r["job_id"] for r in results}) == 12
    assert results[12]["job_id"] == results[3]["job_id"] and results[12]["key"] == results[3]["key"]
    assert aws.depth("BackgroundQueue") == 12
    jobs = serve_wiring.serve_deps().jobs
    for topic, result in zip(topics, results, strict=False):  # each answer is its own request's
        job = jobs.get_job(result["job_id"])
        assert job is not None and str(job.request["topic"]).lower() == topic.lower()


def test_students_cannot_pregenerate_above_default_priority(aws: Aws) -> None:
    batch = {"priority": 90, "requests": [LESSON]}
    _, _, body = call(pre_generate, api_event("pregenerate.json", sub="s1", role="student", body=batch))
    assert body["priority"] == 50


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        {"requests": []},
        {"priority": 500, "requests": [LESSON]},
        {"requests": [{"kind": "lesson"}]},
        {"requests": [LESSON] * 101},
        [],
    ],
)
def test_bad_pregenerate_bodies_get_a_400(aws: Aws, body: Any) -> None:
    status, _, answer = call(pre_generate, api_event("pregenerate.json", body=body))
    assert status == 400
    assert "error" in answer


def test_a_pregenerated_batchs_messages_go_ten_to_a_request_with_their_correlation_ids(aws: Aws) -> None:
    # Given a teacher's batch of 23 new keys
    batch = {
        "priority": 30,
        "requests": [
            {"kind": "lesson", "subject": "Chemistry", "topic": f"Topic {i}", "grade": "10"} for i in range(23)
        ],
    }
    sent: list[tuple[str, int]] = []
    original = BaseClient._make_api_call

    def spy(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if operation.startswith("SendMessage"):
            sent.append((operation, len(params.get("Entries", [params]))))
        return original(self, operation, params)

    # When it is pre-generated
    with mock.patch.object(BaseClient, "_make_api_call", spy):
        status, _, body = call(pre_generate, api_event("pregenerate.json", sub="t1", role="teacher", body=batch))
    # Then its 23 messages went out in three SendMessageBatch requests, each job's message once
    assert status == 202 and [r["status"] for r in body["results"]] == ["queued"] * 23
    assert sent == [("SendMessageBatch", 10), ("SendMessageBatch", 10), ("SendMessageBatch", 3)]
    url = aws.queue_url("BackgroundQueue")
    got: dict[str, dict[str, Any]] = {}
    while len(got) < 24:
        messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
        if not messages.get("Messages"):
            break
        for m in messages["Messages"]:
            got[json.loads(m["Body"])["job_id"]] = m
    assert set(got) == {r["job_id"] for r in body["results"]}
    # And each carries its correlation id as a message attribute, as a single send does
    assert all(m["MessageAttributes"]["correlation_id"]["StringValue"] for m in got.values())
