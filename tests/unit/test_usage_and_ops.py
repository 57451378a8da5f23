"""Usage counting from stream records (read by their adapter), latency percentiles and expiry hours, and the ops
CLI's small parts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_emulator.streams import matches_any
from aws_emulator.template import Template
from pregen.adapters.stats_stream import batch_id, read_stats_stream
from pregen.domain.records import StatsChange
from pregen.services.analytics import _expiries, _percentile
from pregen.services.usage import day_counters, expiry_counts, kind_of_key, latency_bucket
from pregen_tools.ops import OpsError, Target, deployed_target, dlq_redrive, progress_bar, table

KEY = "v1-question_set-" + "a" * 40


def record(
    event: str, sk: str, old_hits: int | None, new_hits: int, *, cost: str = "0.01", at: int = 1_800_000_000
) -> Any:
    image = {"pk": {"S": KEY}, "sk": {"S": sk}, "last_access": {"N": str(at)}, "cost_usd": {"N": "0.01"}}
    change: dict[str, Any] = {
        "Keys": {"pk": {"S": KEY}, "sk": {"S": sk}},
        "NewImage": {**image, "hits": {"N": str(new_hits)}},
    }
    if old_hits is not None:
        change["OldImage"] = {**image, "hits": {"N": str(old_hits)}}
    return {"eventID": f"{event}-{sk}-{new_hits}", "eventName": event, "dynamodb": change}


def test_hits_are_the_rise_of_the_stats_counter_per_day_and_kind() -> None:
    # Given a stats item created with 0 hits, then three hits (one batched change of 2), and a content write
    records = [
        record("INSERT", "stats", None, 0),
        record("MODIFY", "stats", 0, 1),
        record("MODIFY", "stats", 1, 3),
        record("MODIFY", "content", 0, 1),
        # a regeneration after expiry resets the counter: not negative hits
        record("MODIFY", "stats", 3, 0, at=1_800_086_400),
    ]
    # Then three hits, one first use and the cost those hits saved, on the day of the hits
    assert day_counters(read_stats_stream(records).changes) == {
        "2027-01-15": {"hits#question_set": 3, "used#question_set": 1, "cost_saved_usd#question_set": 0.03}
    }


def test_the_stream_adapter_reads_only_stats_inserts_and_changes() -> None:
    # Given a stats change, a content change and a stats removal (expiry), in DynamoDB's wire shape
    removal = {**record("MODIFY", "stats", 1, 0), "eventName": "REMOVE"}
    batch = read_stats_stream([record("MODIFY", "stats", 2, 5), record("MODIFY", "content", 0, 1), removal])
    # Then only the stats change is read, as plain numbers (no kind on the item: the service falls back to the key)
    assert batch.changes == [
        StatsChange(key=KEY, kind=None, hits_before=2, hits_after=5, last_access=1_800_000_000, cost_usd=0.01)
    ]


def test_a_new_stats_item_counts_from_zero_hits() -> None:
    (change,) = read_stats_stream([record("INSERT", "stats", None, 1)]).changes
    assert (change.hits_before, change.hits_after) == (0, 1)


def test_a_batch_id_is_stable_for_the_same_records_and_differs_otherwise() -> None:
    one = [record("MODIFY", "stats", 0, 1)]
    assert batch_id(one) == batch_id(list(one))
    assert batch_id(one) != batch_id([record("MODIFY", "stats", 1, 2)])


def test_keys_name_their_kind() -> None:
    assert kind_of_key(KEY) == "question_set"
    assert kind_of_key("garbage") == "unknown"


def test_latency_percentiles_come_from_the_histogram_buckets() -> None:
    assert latency_bucket(240) == "250" and latency_bucket(250) == "250" and latency_bucket(10**7) == "inf"
    buckets = {"250": 10.0, "1000": 8.0, "20000": 2.0}
    assert _percentile(buckets, 0.5) == 250
    assert _percentile(buckets, 0.95) == 20000
    assert _percentile({}, 0.5) is None


def test_expiries_are_counted_by_hour_around_now() -> None:
    # Given items expiring on 2027-01-15 at 09:xx and 17:xx, and on the 16th at 08:xx and 12:xx
    def at(day: int, hour: int) -> float:
        return dt.datetime(2027, 1, day, hour, 30, tzinfo=dt.UTC).timestamp()

    days: dict[str, dict[str, float]] = {}
    for when in (at(15, 9), at(15, 17), at(16, 8), at(16, 12), at(14, 3)):
        day = dt.datetime.fromtimestamp(when, tz=dt.UTC).date().isoformat()
        for name, value in expiry_counts("lesson", when).items():
            days.setdefault(day, {})[name] = days.get(day, {}).get(name, 0) + value
    now = dt.datetime(2027, 1, 15, 10, 5, tzinfo=dt.UTC)
    # Then at 10:05 on the 15th: the 14th's and the 09:xx ones have expired, 17:xx and 08:xx are within 24 h
    assert _expiries(days, ["2027-01-14", "2027-01-15"], now) == (2, 2)


def test_the_template_filter_lets_only_stats_changes_through() -> None:
    sources = Template(overrides={"JwtIssuer": "https://i.test", "JwtAudience": "a"}).stream_sources()
    (source,) = [s for s in sources if s.function == "UsageAggregatorFunction"]
    assert matches_any(source.filters, record("MODIFY", "stats", 0, 1))
    assert not matches_any(source.filters, record("MODIFY", "content", 0, 1))
    assert not matches_any(source.filters, {**record("MODIFY", "stats", 0, 1), "eventName": "REMOVE"})


def test_progress_bar_and_table() -> None:
    assert progress_bar(3, 1, 6, width=6) == "[###...] 3/6 (1 failed)"
    assert progress_bar(0, 0, 0, width=4) == "[####] 0/0"
    assert table([{"a": 1, "bb": None}]).splitlines() == ["a  bb", "-  --", "1    "]


def test_on_aws_redrive_starts_a_message_move_task_per_dlq() -> None:
    # Given a deployed target (no network: the SQS client is stubbed)
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    urls = {name: f"https://sqs.us-east-1.amazonaws.com/1/{name}" for name in _QUEUES}
    target = Target(api_url="https://api.test", queue_urls=urls, token="t", local=False, _sqs=sqs)
    arn = "arn:aws:sqs:us-east-1:1:InteractiveDeadLetterQueue"
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": arn}},
            {"QueueUrl": urls["InteractiveDeadLetterQueue"], "AttributeNames": ["QueueArn"]},
        )
        stub.add_response("start_message_move_task", {"TaskHandle": "task-1"}, {"SourceArn": arn})
        # When the interactive DLQ is redriven
        result = dlq_redrive(target, "interactive")
        # Then SQS is asked to move the messages back to where they came from
        stub.assert_no_pending_responses()
    assert result == [{"lane": "interactive", "task": "task-1", "moved": None}]


_QUEUES = ("InteractiveQueue", "BackgroundQueue", "InteractiveDeadLetterQueue", "BackgroundDeadLetterQueue")


def test_a_deployed_stack_needs_an_admin_token() -> None:
    with pytest.raises(OpsError, match="admin JWT"):
        deployed_target("pregen-prod", profile=None, region="us-east-1", token=None)
