"""Analytics against moto: exact figures for a scripted sequence, constant cost, and the usage stream."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
import pytest
from botocore.client import BaseClient
from pydantic.alias_generators import to_snake

from aws_emulator.runtime import LambdaContext, LocalFunction
from aws_emulator.streams import StreamPoller
from functions.analytics import app as analytics_app
from functions.get_content import app as get_content
from functions.usage_aggregator import app as usage_aggregator
from pregen.http.presenters import CAMEL_CASE
from pregen.wiring import analytics as analytics_wiring
from pregen.wiring import usage as usage_wiring
from tests.conftest import load_event
from tests.integration.conftest import api_event, call, deliver_usage_lines, freeze, run_worker

if TYPE_CHECKING:
    import pytest

    from tests.integration.conftest import Aws

T0 = dt.datetime(2027, 1, 15, 10, 0, tzinfo=dt.UTC).timestamp()
DAY = 86_400
LESSON = {"kind": "lesson", "subject": "Biology", "topic": "Cells", "grade": "10"}
QSET = {"kind": "question_set", "subject": "Biology", "topic": "Cells", "question_type": "multiple_choice"}


def exam(exam_type: str, topic: str) -> dict[str, str]:
    return {"kind": "exam", "subject": "Biology", "topic": topic, "exam_type": exam_type, "count": "5"}


def get(query: dict[str, str], sub: str = "alice") -> int:
    status, _, _ = call(get_content, api_event("get_content.json", sub=sub, query=query))
    return status


def analytics(query: dict[str, str] | None = None, role: str = "admin") -> tuple[int, Any]:
    """The answer, once every camelCase name is seen to have its snake_case name beside it with the same value;
    the figures below are checked under the camelCase names (the deprecated aliases), which this returns."""
    event = api_event("analytics.json", sub="ops", role=role, query=query or {})
    status, _, body = call(analytics_app, event)
    return status, _camel_case_only(body) if status == 200 else body


def _camel_case_only(value: Any) -> Any:
    if isinstance(value, list):
        return [_camel_case_only(inner) for inner in value]
    if not isinstance(value, dict):
        return value
    snake = {to_snake(key): key for key in value if CAMEL_CASE.fullmatch(key)}
    for name, alias in snake.items():
        assert value.get(name) == value[alias], (name, alias)
    return {key: _camel_case_only(inner) for key, inner in value.items() if key not in snake}


def run_aggregator(aws: Aws) -> int:
    """Deliver the content table's stream to the usage aggregator, as the event source mapping (and the
    local stack) does, with the template's filter patterns."""
    (source,) = [s for s in aws.template.stream_sources() if s.function == "UsageAggregatorFunction"]
    function = LocalFunction(aws.template.functions()[source.function])
    # botocore now picks an account-based streams endpoint that moto's in-process mock does not route.
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    poller = StreamPoller(
        streams,
        stream_arn=aws.resources.stream_arns[source.table],
        function=function,
        batch_size=source.batch_size,
        filters=source.filters,
    )
    return poller.poll_once()


def test_analytics_match_a_scripted_sequence_of_hits_misses_claims_and_expiries(aws: Aws) -> None:
    clock = freeze(T0)
    # Given misses: a lesson (twice: the second joins the job), a question set and three exams
    assert get(LESSON) == 202
    assert get(LESSON, sub="bob") == 202
    assert get(QSET) == 202
    for exam_type, topic in (("diagnostic", "Cells"), ("diagnostic", "Genes"), ("practice", "Cells")):
        assert get(exam(exam_type, topic)) == 202
    # And the worker generates the five distinct keys
    run_worker(aws)
    # And hits: the lesson three times (two learners), the question set once
    for sub in ("alice", "bob", "alice"):
        assert get(LESSON, sub=sub) == 200
    assert get(QSET, sub="carol") == 200
    # Then no miss is counted from the request path: misses are log lines, like hits
    assert analytics()[1]["misses"] == 0
    # When the hit and miss lines reach the usage aggregator, the stream is aggregated and an admin asks
    delivered = deliver_usage_lines(aws)
    assert run_aggregator(aws) >= 4
    status, figures = analytics()
    # Then every figure is exact
    assert status == 200
    assert figures["from"] == "2027-01-09" and figures["to"] == "2027-01-15"
    named = call(analytics_app, api_event("analytics.json", sub="ops", role="admin", query={}))[2]
    assert (named["total_generated"], named["user_stats"]["users_total"]) == (5, 0)  # the snake_case names
    assert figures["totalGenerated"] == 5
    assert figures["generatedByKind"] == {"exam": 3, "lesson": 1, "question_set": 1}
    assert figures["hitsByKind"] == {"lesson": 3, "question_set": 1}
    assert figures["missesByKind"] == {"exam": 3, "lesson": 2, "question_set": 1}
    assert (figures["hits"], figures["misses"], figures["hitRate"]) == (4, 6, 0.4)
    assert figures["hitRateByKind"] == {"exam": 0.0, "lesson": 0.6, "question_set": 0.5}
    assert figures["usedByKind"] == {"lesson": 1, "question_set": 1}
    assert (figures["totalUsed"], figures["totalUnused"], figures["usedPercentage"]) == (2, 3, 40.0)
    assert figures["breakdown"]["exams"] == {
        "generated": 0,
        "used": 0,
        "unused": 0,
        "expired": 0,
        "expiringWithin24h": 0,
    }
    assert (figures["claimedByExamType"], figures["diagnosticCount"], figures["averageExamsPerUser"]) == ({}, 0, 0.0)
    assert (figures["totalExpired"], figures["expiringWithin24h"]) == (0, 0)
    assert figures["generatedByGenerator"] == {"offline": 5}
    assert figures["latencyMs"]["lesson"]["p50"] is not None
    assert figures["queues"]["interactive"] == {"visible": 0, "in_flight": 0}
    today = figures["daily"][-1]
    assert today == {"day": "2027-01-15", "hits": 4, "misses": 6, "hitRate": 0.4, "generated": 5, "costUsd": 0.0}

    # When the stream and the log batch are delivered again (retried batches), nothing is counted twice
    run_aggregator(aws)
    usage_aggregator.lambda_handler(delivered, LambdaContext(function_name="UsageAggregatorFunction", timeout_s=60))
    run_aggregator(aws)
    assert (analytics()[1]["hits"], analytics()[1]["misses"]) == (4, 6)

    # Given the content's TTL (30 days) is 11 hours away: all five expire within 24 h, none has expired
    ttl_at = T0 + 30 * DAY
    clock.at = ttl_at - 11 * 3600
    figures = analytics({"from": "2027-01-15", "to": "2027-02-14"})[1]
    assert (figures["totalExpired"], figures["expiringWithin24h"]) == (0, 5)
    # When the hour of expiry has passed
    clock.at = ttl_at + 3600
    figures = analytics({"from": "2027-01-15", "to": "2027-02-14"})[1]
    # Then they count as expired and no longer as expiring
    assert (figures["totalExpired"], figures["expiringWithin24h"]) == (5, 0)
    # And an expired lesson is a miss again, on the day it was asked for
    assert get(LESSON) == 202
    deliver_usage_lines(aws)
    figures = analytics({"from": "2027-02-14", "to": "2027-02-14"})[1]
    assert figures["missesByKind"] == {"lesson": 1}
    assert figures["totalExpired"] == 5


def _count_dynamodb_requests() -> tuple[list[str], Any]:
    seen: list[str] = []
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            seen.append(operation)
        return original(self, operation, params)

    return seen, mock.patch.object(BaseClient, "_make_api_call", counting)


def _store_items(aws: Aws, count: int, start: int) -> None:
    client = aws.dynamodb
    table = aws.resources.tables["ContentTable"]
    for first in range(start, start + count, 25):
        client.batch_write_item(
            RequestItems={
                table: [
                    {
                        "PutRequest": {
                            "Item": {
                                "pk": {"S": f"v1-lesson-{i:040d}"},
                                "sk": {"S": "stats"},
                                "hits": {"N": "1"},
                                "expires_at": {"N": str(int(T0 + DAY))},
                            }
                        }
                    }
                    for i in range(first, min(first + 25, start + count))
                ]
            }
        )


def test_analytics_makes_the_same_dynamodb_requests_with_100_and_with_10000_items(aws: Aws) -> None:
    freeze(T0)
    counters = analytics_wiring.analytics_deps().counters
    for day in range(30):
        counters.add(f"2027-01-{day + 1:02d}", {"generated#lesson": 1, "hits#lesson": 2}, T0)
    measured = []
    for target in (100, 10_000):
        # Given this many items stored
        stored = 100 if measured else 0
        _store_items(aws, target - stored, start=stored)
        seen, patch = _count_dynamodb_requests()
        # When an admin asks for 30 days
        with patch:
            status, figures = analytics({"from": "2027-01-01", "to": "2027-01-30"})
        assert status == 200
        assert figures["totalGenerated"] == 30
        measured.append(list(seen))
    # Then the requests are the same, and a few BatchGetItems do it: ~40 counter items, each with its shards
    # (SHARDS + 1 keys, 100 keys per request), whatever the number of items stored
    assert measured[0] == measured[1]
    assert set(measured[0]) == {"BatchGetItem"}
    assert len(measured[0]) <= 5


def test_analytics_is_for_admins_only_and_rejects_bad_windows(aws: Aws) -> None:
    assert analytics(role="student")[0] == 403
    assert analytics({"from": "2027-02-01", "to": "2027-01-01"})[0] == 400
    assert analytics({"from": "yesterday"})[0] in {400, 422}
    # A window whose default start would fall before year 1, or that spans more than 366 days: 400, not 500
    status, body = analytics({"to": "0001-01-03"})
    assert status == 400, body
    assert "before 0001-01-01" in body["error"]["message"]
    assert analytics({"from": "2025-01-01", "to": "2026-01-02"})[0] == 400


def test_the_aggregator_counts_the_sample_event_once(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the sample stream event (one first hit of a lesson that cost $0.0042)
    event = load_event("usage_stream.json")
    context = LambdaContext(function_name="usage", timeout_s=60)
    # When it is delivered twice (Lambda retries a batch whose function failed after the write)
    assert usage_aggregator.lambda_handler(event, context)["hits"] == 1
    usage_aggregator.lambda_handler(json.loads(json.dumps(event)), context)
    # Then the day counts it once, with its first use and the cost it saved
    day = usage_wiring.usage_deps()[0].read_days(["2027-01-15"])["2027-01-15"]
    assert day == {"hits#lesson": 1.0, "used#lesson": 1.0, "cost_saved_usd#lesson": 0.0042}


def _exams_call(event: str, sub: str, exam_type: str | None = None, body: Any = None) -> tuple[int, Any]:
    from functions.exams import app as exams_app

    if exam_type is None:
        status, _, answer = call(exams_app, api_event(event, sub=sub, body=body))
    else:
        path = f"/v1/exams/{exam_type}/{'claim' if 'claim' in event else 'inventory'}"
        status, _, answer = call(exams_app, api_event(event, sub=sub, path=path, path_parameters={"exam": exam_type}))
    return status, answer


def _claim(sub: str, exam_type: str) -> int:
    return _exams_call("exams_claim.json", sub, exam_type)[0]


def _drain(aws: Aws) -> None:
    run_worker(aws, "InteractiveQueue", max_batches=200)
    run_worker(aws, "BackgroundQueue", max_batches=200)


def _fold_exam_counters(*subs: str) -> None:
    """What the cron's top-up does for every active learner: fold the counts their exam record holds."""
    from pregen.wiring import exams as exams_wiring

    deps = exams_wiring.exam_deps()
    for sub in subs:
        assert deps.inventory.fold_pending(sub, deps.clock.now())


def test_exams_and_content_items_add_up_through_claims_expiries_and_per_learner_figures(
    aws: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pregen import wiring
    from pregen.wiring import exams as exams_wiring

    monkeypatch.setenv("INVENTORY_TARGET", "1")
    wiring.reset()
    clock = freeze(T0)  # 10:00 UTC: ready exams expire 7 days later at 10:00
    # Given a lesson generated and hit once: one content item, used
    assert get(LESSON) == 202
    run_worker(aws)
    assert get(LESSON, sub="bob") == 200
    # And alice warms both exam types, bob claims a diagnostic (nothing ready: 202), and the worker makes them
    assert _exams_call("exams_warm.json", "alice", body={})[0] == 202
    assert _claim("bob", "diagnostic") == 202
    _drain(aws)
    # When alice claims her diagnostic (200), which tops her up with another, also made at once
    assert _claim("alice", "diagnostic") == 200
    _drain(aws)
    _fold_exam_counters("alice", "bob")
    deliver_usage_lines(aws)
    run_aggregator(aws)
    status, figures = analytics()
    # Then 4 exams were generated, 1 claimed; with the lesson, 5 generated and 2 used
    assert status == 200
    assert figures["breakdown"] == {
        "contentItems": {"generated": 1, "used": 1, "unused": 0, "expired": 0, "expiringWithin24h": 0},
        "exams": {"generated": 4, "used": 1, "unused": 3, "expired": 0, "expiringWithin24h": 0},
    }
    assert (figures["totalGenerated"], figures["totalUsed"], figures["totalUnused"]) == (5, 2, 3)
    assert figures["usedPercentage"] == 40.0
    assert (figures["diagnosticCount"], figures["practiceCount"]) == (3, 1)
    assert figures["claimedByExamType"] == {"diagnostic": 1}
    # And per learner: alice holds 2 ready (a diagnostic and a practice), bob 1
    assert figures["averageExamsPerUser"] == 2.0
    assert figures["userStats"] == {
        "usersWithPreGen": 2,
        "usersWithoutPreGen": 0,
        "avgPreGenPerUser": 1.5,
        "usersTotal": 2,
        "exams": {"generated": 4, "ready": 3, "claimed": 1, "expired": 0},
        "examsPerUser": {"generated": 2.0, "ready": 1.5, "claimed": 0.5, "expired": 0.0},
    }
    assert exams_wiring.exam_deps().inventory.learner_exams("alice").figures(clock.now()) == {
        "generated": 3,
        "ready": 2,
        "claimed": 1,
        "expired": 0,
    }

    # Given the ready exams' expiry is 11 hours away, and bob claims his then (his top-up is made at once)
    clock.at = T0 + 7 * DAY - 11 * 3600
    assert _claim("bob", "diagnostic") == 200
    _drain(aws)
    _fold_exam_counters("alice", "bob")
    figures = analytics({"from": "2027-01-15", "to": "2027-01-22"})[1]
    # Then alice's two are expiring within 24 h; bob's new one is not
    assert figures["breakdown"]["exams"]["expiringWithin24h"] == 2
    assert figures["expiringWithin24h"] == 2
    # When their hour has passed
    clock.at = T0 + 7 * DAY
    figures = analytics({"from": "2027-01-15", "to": "2027-01-22"})[1]
    # Then alice's two count as expired (unclaimed), no longer ready; bob's claimed one never expires as unused
    assert figures["breakdown"]["exams"]["expired"] == 2
    assert figures["totalExpired"] == 2
    assert figures["userStats"]["exams"] == {"generated": 5, "ready": 1, "claimed": 2, "expired": 2}
    assert (figures["userStats"]["usersWithPreGen"], figures["userStats"]["usersWithoutPreGen"]) == (1, 1)
    assert exams_wiring.exam_deps().inventory.learner_exams("alice").figures(clock.now())["expired"] == 2
    # And a window that ends before the expiry day does not count them
    assert analytics({"from": "2027-01-15", "to": "2027-01-21"})[1]["breakdown"]["exams"]["expired"] == 0


def test_analytics_show_each_models_provider_budget_read_by_key(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    from pregen import provider_signals
    from pregen.adapters.provider_budget import DynamoProviderBudget
    from pregen.domain.models import Lane
    from pregen.domain.provider_limits import ProviderAnswer, Spend
    from pregen.services.provider_budget import ProviderBudget, Reservation
    from pregen.wiring import reset

    # Given the budget on, with a small tier for the small model
    model = aws.env["MODEL_SMALL"]
    for name, value in {"PROVIDER_BUDGET": "true", "SMALL_OUTPUT_TPM": "10000", "SMALL_RPM": "50"}.items():
        monkeypatch.setenv(name, value)
    reset()
    clock = freeze(T0)
    tier = Spend(10_000, 1_000_000, 50)
    budget = ProviderBudget(
        DynamoProviderBudget(aws.env["COUNTERS_TABLE"], aws.dynamodb), clock, {model: tier}, tier, 0.0
    )
    try:
        # and, this minute, two calls of 4,000 reserved, a third handed back, and the last one settled at 1,000
        # used after a 429 (the answers reach the reservation this thread holds: the last one)
        first, second = (budget.reserve(model, 4_000, Lane.INTERACTIVE) for _ in range(2))
        assert isinstance(first, Reservation) and isinstance(second, Reservation)
        assert not isinstance(budget.reserve(model, 4_000, Lane.INTERACTIVE), Reservation)
        provider_signals.publish(ProviderAnswer(model, 429, retry_after_s=1))
        provider_signals.publish(ProviderAnswer(model, 200, Spend(1_000, 2_000, 1)))
        budget.settle(second)
        # and, ten minutes before, 998 answers without a 429
        budget.store.add(model, int(T0) // 60 * 60 - 600, Spend(), {"answers": 998}, T0)
    finally:
        provider_signals._listeners.clear()
    # When an admin asks for the analytics
    seen, patch = _count_dynamodb_requests()
    with patch:
        status, figures = analytics()
    # Then the model's minute shows the 1,000 of 10,000 output tokens the settled call used, one wait, and one 429
    # in the 1,000 answers of the last hour, read with BatchGetItem only
    assert status == 200
    view = figures["providers"][model]
    assert view["minute"]["outputTokens"] == 1_000
    assert view["minute"]["outputTokensLimit"] == 10_000
    assert view["minute"]["used"] == 0.1
    assert view["minute"]["requests"] == 1
    assert view["minute"]["waits"] == 1
    assert view["lastHour"] == {"waits": 1, "answers": 1_000, "throttled": 1, "throttledPerThousand": 1.0}
    assert set(seen) == {"BatchGetItem"}
