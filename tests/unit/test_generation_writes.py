"""A generation's writes after its model call in one transaction (``pregen.adapters.finish``): how it reacts to
DynamoDB's cancellations, with a stubbed client (no engine gives a TransactionConflict on demand; the generation
tests in tests/integration run it on moto)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from pregen.adapters import ddb
from pregen.adapters.content import DynamoContentStore
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.erasures import DynamoErasures
from pregen.adapters.finish import DynamoGenerationWrites
from pregen.adapters.jobs import DynamoJobStore
from pregen.domain.records import FinishedGeneration, StoredContent

T = 1_900_000_000.0


def _writes() -> tuple[DynamoGenerationWrites, Stubber, list[list[Any]]]:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )  # stubbed: never sends a request
    writes = DynamoGenerationWrites(
        client,
        store=DynamoContentStore("content", client),
        jobs=DynamoJobStore("jobs", 30, client),
        counters=DynamoCounters("counters", client),
        erasures=DynamoErasures("counters", client),
    )
    sent: list[list[Any]] = []
    client.meta.events.register(
        "before-parameter-build.dynamodb.TransactWriteItems", lambda params, **_: sent.append(params["TransactItems"])
    )
    return writes, Stubber(client), sent


def _done(owner: str | None = None) -> FinishedGeneration:
    content = StoredContent("k1", "lesson", {"title": "t"}, {"cost_usd": 0.01}, owner, T, T + 86_400)
    return FinishedGeneration(
        key="k1",
        job_id="j1",
        worker_id="w1",
        finished=T,
        day="2030-03-17",
        meta={"cost_usd": 0.01},
        attempt=({"at": T, "outcome": "generated"}, 1),
        content=content,
        version=None,
        near=None,
        day_counts={"2030-03-17": {"Generated_lesson": 1}, "2030-03-18": {"Expiring_lesson": 1}},
        learner="ann",
        learner_counts={"CostUSD": 0.01, "Generated": 1},
        started_at=T - 60,
    )


# the items, in order: content, stats, job, lease, erasure check, learner's cost, the two days' counters
ITEMS = 8
JOB, LEASE, ERASURE = 2, 3, 4


def _cancelled(stubber: Stubber, **codes: str) -> None:
    """A cancelled transaction of ``ITEMS`` items (fewer when ``n`` says), the given items failing."""
    n = int(codes.pop("n", ITEMS))
    reasons = ["None"] * n
    for index, code in codes.items():
        reasons[int(index.removeprefix("i"))] = code
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": code} for code in reasons]},
        expected_params={"TransactItems": ANY},
    )


def _ok(stubber: Stubber) -> None:
    stubber.add_response("transact_write_items", {}, {"TransactItems": ANY})


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ddb.time, "sleep", lambda seconds: None)


def test_everything_after_the_call_is_one_transaction() -> None:
    writes, stubber, sent = _writes()
    _ok(stubber)
    with stubber:
        written = writes.finish(_done())
    assert (written.conflicts, written.refused, written.counters_apart) == (0, False, False)
    [items] = sent
    assert [next(iter(i)) for i in items] == ["Put", "Put", "Update", "Delete", "ConditionCheck", *["Update"] * 3]
    check = items[ERASURE]["ConditionCheck"]
    assert check["ConditionExpression"] == "attribute_not_exists(pk) OR requested_at < :started"
    days = [i["Update"]["Key"]["pk"]["S"] for i in items[-2:]]
    assert [d.rsplit("#s", 1)[0] for d in days] == ["day#2030-03-17", "day#2030-03-18"]  # a shard of each day's item


def test_a_counter_conflict_is_retried_and_counted() -> None:
    writes, stubber, sent = _writes()
    _cancelled(stubber, i6="TransactionConflict")
    _cancelled(stubber, i7="TransactionConflict")
    _ok(stubber)
    with stubber:
        written = writes.finish(_done())
    stubber.assert_no_pending_responses()
    assert written.conflicts == 2 and not written.counters_apart
    assert [len(items) for items in sent] == [ITEMS] * 3  # the same transaction, whole, each time


def test_conflicts_that_outlast_the_retries_write_the_counters_apart() -> None:
    writes, stubber, sent = _writes()
    for _ in range(DynamoGenerationWrites.CONFLICTS.retries + 1):
        _cancelled(stubber, i6="TransactionConflict")
    _ok(stubber)  # everything else, together
    for _ in range(2):
        stubber.add_response("update_item", {}, {"TableName": "counters", "Key": ANY, **_update_params()})
    with stubber:
        written = writes.finish(_done())
    stubber.assert_no_pending_responses()
    assert written.counters_apart and written.conflicts == DynamoGenerationWrites.CONFLICTS.retries + 1
    assert len(sent[-1]) == ITEMS - 2  # the learner's cost stays with the erasure check that guards it


def _update_params() -> dict[str, Any]:
    return {"UpdateExpression": ANY, "ExpressionAttributeNames": ANY, "ExpressionAttributeValues": ANY}


def test_a_job_that_is_gone_and_a_lease_taken_over_are_left_out_not_failed() -> None:
    writes, stubber, sent = _writes()
    _cancelled(stubber, i2="ConditionalCheckFailed", i3="ConditionalCheckFailed")
    _ok(stubber)
    with stubber:
        written = writes.finish(_done())
    assert not written.refused
    kinds = [next(iter(i)) for i in sent[1]]
    assert kinds == ["Put", "Put", "ConditionCheck", "Update", "Update", "Update"]  # no job, no lease


def test_an_erased_learner_gets_no_cost_item_and_shared_content_is_still_stored() -> None:
    writes, stubber, sent = _writes()
    _cancelled(stubber, i4="ConditionalCheckFailed")
    _ok(stubber)
    with stubber:
        written = writes.finish(_done())
    assert written.refused
    again = sent[1]
    assert len(again) == ITEMS - 2 and all("learner#" not in str(i) for i in again)
    assert again[0]["Put"]["Item"]["sk"] == {"S": "content"}


def test_an_erased_learners_personal_content_is_not_written_back() -> None:
    writes, stubber, sent = _writes()
    _cancelled(stubber, i4="ConditionalCheckFailed")
    _ok(stubber)
    with stubber:
        assert writes.finish(_done(owner="ann")).refused
    again = sent[1]
    assert "ann" not in str(again)  # nothing of theirs: no content, no job, no cost item
    assert [next(iter(i)) for i in again] == ["Delete", "Update", "Update"]  # the lease ends, the day's counters


def test_any_other_cancellation_fails_the_delivery() -> None:
    writes, stubber, _ = _writes()
    _cancelled(stubber, i0="ValidationError")
    with stubber, pytest.raises(ClientError):
        writes.finish(_done())


def test_the_lease_marks_the_job_generating_in_the_same_write() -> None:
    writes, stubber, sent = _writes()
    _ok(stubber)
    with stubber:
        assert writes.lease("k1", "j1", "w1", T, 300, unless_cached=True, attempts=2)
    [items] = sent
    assert [next(iter(i)) for i in items] == ["ConditionCheck", "Update", "Update"]
    mark = items[2]["Update"]
    assert mark["Key"]["pk"] == {"S": "job#j1"} and mark["ExpressionAttributeValues"][":status"] == {"S": "generating"}


def test_a_job_done_or_gone_meanwhile_is_not_marked_but_the_key_is_still_leased() -> None:
    writes, stubber, sent = _writes()
    _cancelled(stubber, n="3", i2="ConditionalCheckFailed")
    _ok(stubber)
    with stubber:
        assert writes.lease("k1", "j1", "w1", T, 300, unless_cached=True, attempts=1)
    assert [len(items) for items in sent] == [3, 2]  # the lease, and its content check, alone


def test_the_key_cached_meanwhile_writes_nothing() -> None:
    writes, stubber, sent = _writes()
    _cancelled(stubber, n="3", i0="ConditionalCheckFailed")
    with stubber:
        assert not writes.lease("k1", "j1", "w1", T, 300, unless_cached=True, attempts=1)
    assert len(sent) == 1


def test_a_fresh_job_is_leased_and_marked_in_one_write_only_as_its_claim_wrote_it() -> None:
    writes, stubber, sent = _writes()
    _ok(stubber)
    _cancelled(stubber, n="3", i2="ConditionalCheckFailed")  # the job is not as its claim wrote it
    with stubber:
        assert writes.lease_fresh("k1", "j1", "w1", T, 300, attempts=1)
        assert not writes.lease_fresh("k1", "j1", "w1", T, 300, attempts=2)
    assert len(sent) == 2  # refused: nothing retried here, the caller reads the job and leases again
    mark = sent[0][2]["Update"]
    assert mark["ConditionExpression"] == "attribute_exists(pk) AND #status = :queued AND model_calls = :none"
