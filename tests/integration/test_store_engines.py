"""The DynamoDB adapters against two engines: moto (a model) and DynamoDB Local (Amazon's own engine).

DynamoDB Local is fetched from npm (amplify-dynamodb-simulator) and started once per session on loopback; see
aws_emulator.dynamodb_local. What moto does not enforce and DynamoDB Local does is tested on DynamoDB Local only:
table-name rules, the 25-item / 100-key batch limits, conditions that stay atomic under concurrent writers
(no ``atomic_requests`` crutch) and transaction conflicts. TTL deletion is lazy in DynamoDB Local as in AWS
(hours, and not at all in-memory during a test), so expiry is tested where it is enforced: at read time.
"""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from aws_emulator import dynamodb_local
from aws_emulator.template import Template
from pregen import wiring
from pregen.adapters.content import DynamoContentStore
from pregen.adapters.counters import DynamoCounters, DynamoHitCounter
from pregen.adapters.jobs import DynamoJobStore
from pregen.domain.errors import LeaseHeld
from pregen.domain.models import Lane
from pregen.domain.records import StoredContent
from pregen.usage_log import KeyHits
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import api_event, call, lambda_environments

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.dynamodb_local

NOW = 1_900_000_000.0
TABLE_NAME_MAX = 255


@pytest.fixture(scope="session")
def ddb_local() -> Iterator[dynamodb_local.DynamoDBLocal]:
    """One DynamoDB Local process for the session, torn down after. CI installs it from npm on first use."""
    if os.environ.get("PREGEN_SKIP_DYNAMODB_LOCAL") == "1":
        pytest.skip("PREGEN_SKIP_DYNAMODB_LOCAL=1")
    try:
        server = dynamodb_local.start()
    except dynamodb_local.Unavailable as exc:
        pytest.fail(f"DynamoDB Local is required for this tier (set PREGEN_SKIP_DYNAMODB_LOCAL=1 to skip): {exc}")
    yield server
    server.stop()


@dataclass
class Engine:
    name: str
    client: Any
    tables: dict[str, str]
    queue_urls: dict[str, str]

    def content(self) -> DynamoContentStore:
        return DynamoContentStore(self.tables["ContentTable"], client=self.client)

    def jobs(self) -> DynamoJobStore:
        return DynamoJobStore(self.tables["JobsTable"], ttl_days=7, client=self.client)

    def counters(self) -> DynamoCounters:
        return DynamoCounters(self.tables["CountersTable"], client=self.client)

    def hit_counter(self) -> DynamoHitCounter:
        return DynamoHitCounter(self.tables["ContentTable"], self.tables["CountersTable"], client=self.client)


def _client(endpoint: str | None) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")


@contextmanager
def _provisioned(kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """Tables created from template.yaml on the engine ``kind`` (queues always on moto)."""
    with mock_aws():
        endpoint: str | None = None
        if kind == "dynamodb-local":
            server: dynamodb_local.DynamoDBLocal = request.getfixturevalue("ddb_local")
            endpoint = server.endpoint
            # DynamoDB only, for code that builds its own client (the handlers): SQS stays on moto.
            monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", server.endpoint)
        client = _client(endpoint)
        template = Template(overrides={"JwtIssuer": "https://issuer.test", "JwtAudience": "pregen"})
        prefix = f"t{uuid.uuid4().hex[:10]}"  # DynamoDB Local is shared by the session: one set of tables a test
        created = template.provision(client, boto3.client("sqs"), prefix=prefix)
        for name, value in {**template.environment(), "ANTHROPIC_API_KEY_PARAMETER": ""}.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        yield Engine(kind, client, dict(created.tables), dict(created.queue_urls))
        wiring.reset()
        if endpoint is not None:
            for table in created.tables.values():
                client.delete_table(TableName=table)


@pytest.fixture(params=["moto", "dynamodb-local"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    with _provisioned(request.param, request, monkeypatch) as provisioned:
        yield provisioned


@pytest.fixture
def real(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """DynamoDB Local only: what moto does not enforce (moto's own concurrency tests use ``atomic_requests``)."""
    with _provisioned("dynamodb-local", request, monkeypatch) as provisioned:
        yield provisioned


def _content(key: str, *, expires_at: float = NOW + 3600) -> StoredContent:
    return StoredContent(
        key=key,
        kind="lesson",
        body={"title": "Moles", "sections": ["x" * 500]},
        meta={"cost_usd": 0.0123, "usage": {"input_tokens": 10}},
        owner=None,
        created_at=NOW,
        expires_at=expires_at,
    )


def _hammer(n: int, work: Any) -> list[Any]:
    """Run ``work(i)`` on ``n`` threads released at once; results (or the exception raised) in order."""
    barrier = threading.Barrier(n)

    def one(i: int) -> Any:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # returned, asserted by the caller
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


# -- both engines ----------------------------------------------------------------------------------------------------


def test_content_round_trips_and_an_expired_item_is_never_served(engine: Engine) -> None:
    store = engine.content()
    # Given one live item and one past its TTL (TTL deletion is lazy on every engine: the read must check)
    store.put_content(_content("live"))
    store.put_content(_content("stale", expires_at=NOW - 1))
    # Then the live one reads back whole, the stale one is a miss although it is still stored
    got = store.get_content("live", NOW, consistent=True)
    assert got is not None
    assert got.body == _content("live").body
    assert got.meta["cost_usd"] == 0.0123
    assert store.get_content("stale", NOW, consistent=True) is None
    key = {"pk": {"S": "stale"}, "sk": {"S": "content"}}
    assert "Item" in engine.client.get_item(TableName=engine.tables["ContentTable"], Key=key)


def test_counters_are_read_in_batches_of_at_most_100_keys(engine: Engine) -> None:
    counters = engine.counters()
    days = [f"2030-{m:02d}-{d:02d}" for m in range(1, 10) for d in range(1, 29)]  # 252 days: three batches
    for day in days[::50]:
        counters.add(day, {"generated#lesson": 2, "cost_usd#lesson": 0.5}, NOW)
    # When a range longer than one BatchGetItem is read (DynamoDB refuses more than 100 keys a request)
    read = counters.read_days(days)
    # Then every stored day comes back, and only those
    assert set(read) == set(days[::50])
    assert all(v == {"generated#lesson": 2.0, "cost_usd#lesson": 0.5} for v in read.values())


def test_logged_hits_are_added_once_and_never_recreate_a_deleted_stats_item(engine: Engine) -> None:
    store, counter = engine.content(), engine.hit_counter()
    # Given 150 stored keys (more than one transaction's 99) and one key whose items TTL has deleted
    keys = [f"k{i:03d}" for i in range(150)]
    for key in keys:
        store.put_content(_content(key))
    hits = {key: KeyHits(count=2, last_at=int(NOW)) for key in keys} | {"gone": KeyHits(count=5, last_at=int(NOW))}
    # When a batch of logged hits is added, and then delivered again
    assert counter.add("batch-1", hits, NOW) == 300
    assert counter.add("batch-1", hits, NOW) == 0
    # Then every stored key counts its hits once; the deleted key was dropped, not recreated without an expiry
    assert {store.get_stats(key)["hits"] for key in keys} == {2}
    assert store.get_stats(keys[0])["last_access"] == int(NOW)
    assert store.get_stats("gone") == {}
    # And another batch adds again
    assert counter.add("batch-2", {keys[0]: KeyHits(count=1, last_at=int(NOW) + 5)}, NOW) == 1
    assert store.get_stats(keys[0])["hits"] == 3


def test_job_status_never_moves_back_from_done(engine: Engine) -> None:
    from pregen.domain.models import Job, JobStatus

    jobs = engine.jobs()
    job = Job.model_validate(
        {
            "job_id": "j1",
            "key": "k1",
            "kind": "lesson",
            "request": {"kind": "lesson", "subject": "math"},
            "status": "queued",
            "lane": "interactive",
            "priority": 50,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )
    jobs.put_job(job)
    jobs.set_status("j1", JobStatus.DONE, NOW + 1)
    jobs.set_status("j1", JobStatus.FAILED, NOW + 2, reason="a late duplicate failed")
    got = jobs.get_job("j1")
    assert got is not None
    assert got.status is JobStatus.DONE


# -- DynamoDB Local: what moto does not enforce ---------------------------------------------------------------------


def test_concurrent_claims_of_one_key_have_exactly_one_winner(real: Engine) -> None:
    store = real.content()
    # When 48 requests miss the same key at the same instant (no lock around the client: the engine decides)
    claims = _hammer(48, lambda i: store.claim_inflight("hot", f"job-{i}", Lane.INTERACTIVE, NOW, 900))
    # Then one wins, and every other one joins the winner's job
    assert not [c for c in claims if isinstance(c, Exception)]
    winners = [c for c in claims if c.won]
    assert len(winners) == 1
    assert {c.job_id for c in claims} == {winners[0].job_id}


def test_concurrent_leases_of_one_key_have_exactly_one_holder(real: Engine) -> None:
    store = real.content()
    store.claim_inflight("hot", "job-1", Lane.INTERACTIVE, NOW, 900)
    store.acquire_lease("hot", "job-1", "first", NOW, 300)
    store.requeue_lease("hot", "first")  # back to queued: every delivery below may take it

    def lease(i: int) -> str:
        store.acquire_lease("hot", "job-1", f"worker-{i}", NOW, 300)
        return f"worker-{i}"

    results = _hammer(32, lease)
    holders = [r for r in results if isinstance(r, str)]
    assert len(holders) == 1
    assert all(isinstance(r, LeaseHeld) for r in results if not isinstance(r, str))


def test_a_stampede_through_the_handler_makes_one_job_without_any_lock(real: Engine) -> None:
    from functions.get_content import app as get_content

    query = {"kind": "lesson", "subject": "Chemistry", "topic": "Moles", "grade": "11"}
    serve_wiring.serve_deps()  # built once, before the threads (as one Lambda instance would be warm)
    environments = lambda_environments(get_content, 64)

    def miss(i: int) -> tuple[int, str]:
        status, _, body = call(environments[i], api_event("get_content.json", sub=f"learner-{i}", query=query))
        return status, body["job_id"]

    results = _hammer(64, miss)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert {status for status, _ in results} == {202}
    assert len({job_id for _, job_id in results}) == 1
    sqs = boto3.client("sqs")
    depth = sqs.get_queue_attributes(
        QueueUrl=real.queue_urls["InteractiveQueue"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert depth == "1"


def test_concurrent_transactions_on_one_item_never_tear_it(real: Engine) -> None:
    store = real.content()

    def put(i: int) -> str:
        store.put_content(_content("contended"))
        return "ok"

    results = _hammer(24, put)
    failures = [r for r in results if isinstance(r, Exception)]
    # A conflicting transaction is refused as a whole (TransactionCanceledException: TransactionConflict);
    # the worker lets it fail the record, SQS delivers it again, nothing is half-written. (DynamoDB Local
    # serialises these 24 in practice, so no conflict is seen here; the assertion holds either way.)
    for exc in failures:
        assert isinstance(exc, ClientError)
        assert exc.response["Error"]["Code"] == "TransactionCanceledException"
        assert "TransactionConflict" in str(exc)
    assert results.count("ok") >= 1
    got = store.get_content("contended", NOW, consistent=True)
    assert got is not None
    assert got.body == _content("contended").body
    assert "hits" in store.get_stats("contended")


def test_a_transaction_may_not_touch_one_item_twice(real: Engine) -> None:
    # put_content writes the content and its stats item in one transaction: two items, never one item twice,
    # which the engine refuses.
    table = real.tables["ContentTable"]
    item = {"pk": {"S": "k"}, "sk": {"S": "content"}, "expires_at": {"N": "1"}}
    with pytest.raises(ClientError, match="ValidationException"):
        real.client.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": item}}, {"Put": {"TableName": table, "Item": item}}]
        )


def test_batch_limits_are_enforced(real: Engine) -> None:
    table = real.tables["CountersTable"]
    keys = [{"pk": {"S": f"day#{i}"}, "sk": {"S": "totals"}} for i in range(101)]
    with pytest.raises(ClientError, match="ValidationException"):
        real.client.batch_get_item(RequestItems={table: {"Keys": keys}})
    writes = [{"PutRequest": {"Item": k}} for k in keys[:26]]
    with pytest.raises(ClientError, match="ValidationException"):
        real.client.batch_write_item(RequestItems={table: writes})
    # 100 keys and 25 writes are fine
    real.client.batch_write_item(RequestItems={table: writes[:25]})
    assert len(real.client.batch_get_item(RequestItems={table: {"Keys": keys[:100]}})["Responses"][table]) == 25


def test_table_names_from_the_template_follow_the_engines_rules(real: Engine) -> None:
    # The template's tables were created on the real engine (the fixture), so their names are valid there.
    assert all(len(name) <= TABLE_NAME_MAX for name in real.tables.values())
    # And the engine does enforce the rules the names must meet (moto accepts these).
    for bad in ("a" * (TABLE_NAME_MAX + 1), "has space", "x"):
        with pytest.raises(ClientError, match="ValidationException"):
            real.client.create_table(
                TableName=bad,
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )


def test_the_engines_warm_up_runs_pregens_operations_and_leaves_no_table_behind(
    ddb_local: dynamodb_local.DynamoDBLocal,
) -> None:
    client = _client(ddb_local.endpoint)
    # Given a scratch table left by a stack killed during its warm-up
    client.create_table(TableName=dynamodb_local.WARM_UP_TABLE, **dynamodb_local.PK_SK_TABLE)
    # When the stack warms the engine (twice: a restart)
    for _ in range(2):
        assert dynamodb_local.warm_up(ddb_local.host, ddb_local.port, rounds=3) > 0
    # Then every operation it sends was accepted (a refused one raises) and its table is gone
    assert dynamodb_local.WARM_UP_TABLE not in client.list_tables()["TableNames"]


def test_50_concurrent_claims_take_the_10_ready_exams_and_none_waits_while_one_is_ready(real: Engine) -> None:
    from bench.exam_claims import build, seed
    from pregen.domain.clock import FrozenClock
    from pregen.domain.exam_stats import EXAMS_CLAIMED, EXAMS_GENERATED
    from pregen.domain.inventory import ExamStatus
    from pregen.domain.models import Caller
    from pregen.services.exams import Claimed, Waiting, claim_exam

    # Given one learner with 10 ready exams, on DynamoDB Local (no lock around requests)
    clock = FrozenClock(NOW)
    bench = build(real.client, real.tables["ExamsTable"], real.tables["CountersTable"], clock)
    seed(bench, "racer", 10)
    inventory = bench.deps.inventory

    def claim(_: int) -> tuple[int, int]:
        outcome = claim_exam(Caller(sub="racer"), "diagnostic", bench.deps)
        if isinstance(outcome, Waiting):  # a 202: no exam may be ready as it answers (nothing publishes meanwhile)
            _, slots = inventory.list_slots("racer", "diagnostic")
            return 202, sum(1 for s in slots if s.status is ExamStatus.READY and s.live(clock.now()))
        assert isinstance(outcome, Claimed)
        return 200, 0

    transactions: list[list[dict[str, Any]]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        transactions.append(params["TransactItems"])

    real.client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", capture)
    # When 50 claims race for them
    answers = _hammer(50, claim)
    real.client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", capture)
    assert not [a for a in answers if isinstance(a, Exception)]
    # Then exactly 10 answer 200, and every 202 came when no exam was ready
    assert sorted(status for status, _ in answers).count(200) == 10
    assert [ready for status, ready in answers if status == 202] == [0] * 40
    # And the learners' records carry the counts (no claim folded another's first: none was a minute old)
    assert DynamoCounters(real.tables["CountersTable"], client=real.client).read_gauges().get(EXAMS_CLAIMED, 0) == 0
    # When the cron folds the learner's record, twice (a second run finds nothing left)
    assert inventory.fold_pending("racer", clock.now())
    assert inventory.fold_pending("racer", clock.now())
    # Then the global figures, written after the learner's transactions on sharded items, count each claim once
    gauges = DynamoCounters(real.tables["CountersTable"], client=real.client).read_gauges()
    assert gauges[EXAMS_GENERATED] == 10
    assert gauges[EXAMS_CLAIMED] == 10
    assert inventory.learner_exams("racer").claimed == 10
    # And every transaction that claims an exam writes the learner's own items only: no shared counter item
    claiming = [t for t in transactions if any(":claimed" in str(op) for op in t)]
    assert len(claiming) >= 10
    for transaction in claiming:
        tables = {body["TableName"] for op in transaction for body in op.values()}
        assert tables == {real.tables["ExamsTable"]}
