"""Hit lines: what get-content prints, what the log subscription delivers, and how the local stack routes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aws_emulator.logs import LogSubscriptions, awslogs_event, compile_pattern
from aws_emulator.runtime import LocalFunction
from aws_emulator.template import FunctionSpec, LogSubscription, Template
from pregen import usage_log


def test_a_hit_line_matches_the_templates_filter_pattern_and_round_trips() -> None:
    (subscription,) = Template().log_subscriptions()
    assert (subscription.source, subscription.function) == ("GetContentFunction", "UsageAggregatorFunction")
    assert subscription.pattern == usage_log.USAGE_FILTER_PATTERN
    line = usage_log.hit_line("v1-lesson-abc", 1_900_000_000.7)
    assert compile_pattern(subscription.pattern)(line)
    assert compile_pattern(subscription.pattern)(usage_log.miss_line("v1-lesson-abc", "lesson", 1_900_000_000.7))
    assert not compile_pattern(subscription.pattern)('{"level": "INFO", "message": "cache hit"}')
    events = [{"id": "1", "timestamp": 0, "message": line}]
    event = awslogs_event(events, log_group="/aws/lambda/x", filter_name="f")
    assert usage_log.decode_subscription(event)["logEvents"] == events


T = 1_900_000_000


def test_hits_are_summed_per_key_and_odd_lines_are_skipped_not_fatal() -> None:
    lines = [
        usage_log.hit_line("a", T + 100),
        usage_log.hit_line("b", T + 90),
        usage_log.hit_line("a", T + 120),
        "not json",
        '{"usage": "miss", "key": "c"}',
        '{"usage": "hit", "key": 7}',
        '{"usage": "hit", "key": ""}',
        json.dumps({"usage": "hit", "key": "k" * 2049, "at": T}),
        '["usage", "hit"]',
    ]
    events = [{"id": str(i), "timestamp": (T + 5) * 1000, "message": line} for i, line in enumerate(lines)]
    hits = usage_log.hits_of(events)
    assert hits == {"a": usage_log.KeyHits(count=2, last_at=T + 120), "b": usage_log.KeyHits(count=1, last_at=T + 90)}
    assert usage_log.batch_id(events) == usage_log.batch_id(json.loads(json.dumps(events)))
    assert usage_log.batch_id(events) != usage_log.batch_id(events[1:])


def test_misses_are_summed_per_day_and_kind_and_odd_lines_are_skipped_not_fatal() -> None:
    midnight = 1_900_022_400  # 2030-03-18T00:00:00Z
    lines = [
        usage_log.miss_line("v1-lesson-a", "lesson", midnight - 1),
        usage_log.miss_line("v1-lesson-a", "lesson", midnight),
        usage_log.miss_line("v1-lesson-b", "lesson", midnight + 5),
        usage_log.miss_line("v1-exam-c", "exam", midnight + 9),
        usage_log.hit_line("v1-lesson-a", midnight),  # a hit is not a miss
        '{"usage": "miss", "key": "x", "kind": "Lesson#1", "at": 1900022400}',  # not a kind
        '{"usage": "miss", "key": "x", "at": 1900022400}',  # no kind
        "not json",
    ]
    events = [{"id": str(i), "timestamp": midnight * 1000, "message": line} for i, line in enumerate(lines)]
    assert usage_log.misses_of(events) == {
        "2030-03-17": {"misses#lesson": 1},
        "2030-03-18": {"misses#lesson": 2, "misses#exam": 1},
    }
    assert usage_log.hits_of(events) == {"v1-lesson-a": usage_log.KeyHits(count=1, last_at=midnight)}


@pytest.mark.parametrize("at", ["NaN", "Infinity", "1e300", "true", '"soon"', "12"])
def test_an_absurd_hit_time_falls_back_to_the_log_events_timestamp(at: str) -> None:
    events = [{"id": "1", "timestamp": T * 1000, "message": f'{{"usage": "hit", "key": "a", "at": {at}}}'}]
    assert usage_log.hits_of(events) == {"a": usage_log.KeyHits(count=1, last_at=T)}


def test_log_events_without_ids_still_get_distinct_batch_ids() -> None:
    first = [{"timestamp": T * 1000, "message": usage_log.hit_line("a", T)}]
    second = [{"timestamp": T * 1000 + 1, "message": usage_log.hit_line("a", T)}]
    assert usage_log.batch_id(first) != usage_log.batch_id(second)


@pytest.mark.parametrize(
    ("pattern", "line", "matches"),
    [
        ('{ $.usage = "hit" }', '{"usage": "hit"}', True),
        ('{ $.a.b = "x" && $.n = 2 }', '{"a": {"b": "x"}, "n": 2}', True),
        ('{ $.a.b = "x" && $.n = 2 }', '{"a": {"b": "x"}, "n": 3}', False),
        ('{ $.usage = "hit" }', '{"other": "hit"}', False),
        ('{ $.usage = "hit" || $.usage = "miss" }', '{"usage": "miss"}', True),
        ('{ $.usage = "hit" || $.usage = "miss" }', '{"usage": "hit"}', True),
        ('{ $.usage = "hit" || $.usage = "miss" }', '{"usage": "other"}', False),
        ('{ ($.a = "x") && ($.n = 2) || ($.b = "y") }', '{"a": "x", "n": 2}', True),
        ('{ $.a = "x" && $.n = 2 || $.b = "y" }', '{"b": "y"}', True),
    ],
)
def test_local_filter_patterns(pattern: str, line: str, matches: bool) -> None:
    assert compile_pattern(pattern)(line) is matches


def test_an_unsupported_pattern_stops_the_stack_instead_of_matching_nothing() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        compile_pattern("ERROR")


class _Recorder(LocalFunction):
    def __init__(self, name: str, *, fail: bool = False) -> None:
        super().__init__(FunctionSpec(logical_id=name, module="-", handler="-", timeout=3, environment={}))
        self.events: list[dict[str, Any]] = []
        self.fail = fail
        self._handler = self._handle

    def _handle(self, event: dict[str, Any], context: Any) -> Any:
        if "awslogs" in event:
            self.events.append(usage_log.decode_subscription(event))
            if self.fail:
                raise RuntimeError("throttled")
            return None
        usage_log.record_hit(event["key"], 100)  # what get-content does on a hit
        return None


def test_the_local_subscription_delivers_only_the_subscribed_functions_lines_then_queues_failures() -> None:
    source, other, sink = _Recorder("Source"), _Recorder("Other"), _Recorder("Sink", fail=True)
    failed: list[tuple[str, dict[str, Any]]] = []
    subscription = LogSubscription(
        name="hits", source="Source", function="Sink", pattern=usage_log.USAGE_FILTER_PATTERN
    )
    subscriptions = LogSubscriptions(
        [subscription], {"Source": source, "Other": other, "Sink": sink}, on_failure=lambda f, e: failed.append((f, e))
    )
    previous = usage_log.set_sink(subscriptions.emit)
    try:
        source.invoke({"key": "k1"})
        other.invoke({"key": "k2"})  # another function's log group: not subscribed
        source.invoke({"key": "k1"})
        assert subscriptions.flush() == 0  # every attempt failed
    finally:
        usage_log.set_sink(previous)
    # Three attempts of one batch with the two lines of Source, then the function's on-failure queue
    assert len(sink.events) == 3
    assert [json.loads(e["message"])["key"] for e in sink.events[0]["logEvents"]] == ["k1", "k1"]
    assert len({e["id"] for e in sink.events[0]["logEvents"]}) == 2
    assert [f for f, _ in failed] == ["Sink"]
    assert usage_log.decode_subscription(failed[0][1])["subscriptionFilters"] == ["hits"]


def test_the_usage_aggregators_failed_batches_go_to_its_queue() -> None:
    assert Template().on_failure_queue("UsageAggregatorFunction") == "UsageDeadLetterQueue"
    assert Template().on_failure_queue("WorkerFunction") is None
