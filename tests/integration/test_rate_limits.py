"""Generation allowances per role against moto: 429 with Retry-After past the limit, hits untouched."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from functions.get_content import app as get_content
from functions.pre_generate import app as pre_generate
from pregen.adapters.limits import DynamoRateCounter
from pregen.domain.clock import FrozenClock
from pregen.domain.limits import RateLimits
from pregen.services.limits import GenerationLimiter
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from tests.integration.conftest import Aws


def lesson(topic: str) -> dict[str, str]:
    return {"kind": "lesson", "subject": "Biology", "topic": topic, "grade": "8"}


def get(query: dict[str, str], *, sub: str = "alice", role: str = "student") -> tuple[int, dict[str, str], Any]:
    return call(get_content, api_event("get_content.json", sub=sub, role=role, query=query))


@pytest.fixture
def clock(aws: Aws) -> FrozenClock:
    """Limits of 3 a minute for students, 5 a minute for teachers; a clock 10 s into a minute."""
    deps = serve_wiring.serve_deps()
    limits = RateLimits.model_validate({"student": {"minute": 3, "day": 100}, "teacher": {"minute": 5}})
    assert deps.limiter is not None
    deps.limiter = GenerationLimiter(counter=deps.limiter.counter, limits=limits)
    now = time.time()  # near the real time: the worker stores content with the system clock
    frozen = FrozenClock(at=now - now % 60 + 10)
    deps.clock = frozen
    return frozen


def test_past_the_minute_limit_a_miss_is_429_with_retry_after_and_the_limit_named(aws: Aws, clock: FrozenClock) -> None:
    # Given a student who already missed 3 times this minute
    for topic in ("Cells", "Tissues", "Organs"):
        assert get(lesson(topic))[0] == 202
    # When they miss a fourth time
    status, headers, body = get(lesson("Systems"))
    # Then 429 says which limit and when it frees up (50 s: the rest of the minute), and nothing was enqueued
    assert status == 429
    assert headers["retry-after"] == "50"
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["details"][0]["limit"] == "student.minute"
    assert body["error"]["details"][0]["allowed"] == 3
    assert aws.depth("InteractiveQueue") == 3
    # And another learner is not affected, and the next minute the student may ask again
    assert get(lesson("Systems"), sub="bob")[0] == 202
    clock.advance(50)
    assert get(lesson("Systems"))[0] == 202


def test_hits_are_never_limited_and_never_touch_the_limiter(aws: Aws, clock: FrozenClock) -> None:
    # Given a cached lesson and a student who used up their allowance
    assert get(lesson("Cells"))[0] == 202
    run_worker(aws)
    for topic in ("Tissues", "Organs"):
        get(lesson(topic))
    assert get(lesson("Systems"))[0] == 429
    deps = serve_wiring.serve_deps()
    assert deps.limiter is not None
    calls: list[str] = []
    counter = deps.limiter.counter
    original = counter.consume

    def spy(*args: Any, **kwargs: Any) -> str | None:
        calls.append("consume")
        return original(*args, **kwargs)

    counter.consume = spy  # type: ignore[method-assign]
    # When they read the cached lesson again and again
    for _ in range(10):
        status, headers, _ = get(lesson("Cells"))
        # Then every read is a hit, and the limiter was not even asked
        assert (status, headers["x-cache"]) == (200, "HIT")
    assert calls == []


def test_teachers_get_a_larger_allowance_than_students(aws: Aws, clock: FrozenClock) -> None:
    assert [get(lesson(f"T{i}"), role="teacher")[0] for i in range(6)] == [202] * 5 + [429]
    assert [get(lesson(f"S{i}"), sub="sam")[0] for i in range(4)] == [202] * 3 + [429]


def test_pregenerate_counts_only_keys_that_will_generate_and_refuses_a_batch_whole(
    aws: Aws, clock: FrozenClock
) -> None:
    def pregen(topics: list[str]) -> tuple[int, dict[str, str], Any]:
        body = {"requests": [lesson(t) for t in topics]}
        return call(pre_generate, api_event("pregenerate.json", sub="carol", role="student", body=body))

    # Given one cached lesson
    assert pregen(["Cells"])[0] == 202
    run_worker(aws)
    # When a batch of 3 holds the cached one and a duplicate: 2 keys will generate (1 + 2 = 3: at the limit)
    status, _, body = pregen(["Cells", "Tissues", "Organs", "Organs"])
    assert status == 202
    assert [r["status"] for r in body["results"]] == ["cached", "queued", "queued", "queued"]
    # Then one more key is over the allowance: 429, and nothing of that batch was enqueued
    status, headers, body = pregen(["Systems", "Cells"])
    assert status == 429
    assert int(headers["retry-after"]) >= 1
    assert body["error"]["details"][0]["action"] == "pregenerate"
    assert aws.depth("InteractiveQueue") == 2


def test_a_refused_request_uses_up_no_allowance_in_any_window(aws: Aws) -> None:
    # Given a counter with a generous day and a tight minute
    counter = DynamoRateCounter(aws.resources.tables["CountersTable"])
    windows = [("minute", 60, 2), ("day", 86_400, 3)]
    now = 1_800_000_000.0
    assert counter.consume("dora", windows, 2, now) is None
    # When the minute is full, the request is refused by the minute...
    assert counter.consume("dora", windows, 1, now) == "minute"
    # ...and the day did not count it: a minute later 1 more fits the day (2 + 1 = 3), then the day is full
    assert counter.consume("dora", windows, 1, now + 60) is None
    assert counter.consume("dora", windows, 1, now + 120) == "day"
    # And the windows are one small item, the day's, with a TTL: the minute's count an attribute of it, the
    # previous minute's removed
    day = int(now) // 86_400 * 86_400
    item = aws.dynamodb.get_item(
        TableName=aws.resources.tables["CountersTable"], Key={"pk": {"S": "limit#dora"}, "sk": {"S": f"day#{day}"}}
    )["Item"]
    minute = int(now + 60) // 60 * 60
    assert {k: v.get("N") for k, v in item.items() if k not in {"pk", "sk"}} == {
        "used": "3",
        f"minute#{minute}": "1",
        "expires_at": str(day + 86_400 + 3600),
    }


def test_a_request_is_counted_in_every_window_with_one_update(aws: Aws) -> None:
    counter = DynamoRateCounter(aws.resources.tables["CountersTable"])
    windows = [("minute", 60, 5), ("hour", 3_600, 8), ("day", 86_400, 100)]
    requests: list[str] = []
    original = counter.client._make_api_call

    def spy(operation: str, params: dict[str, Any]) -> Any:
        requests.append(operation)
        return original(operation, params)

    now = 1_800_000_000.0
    with mock.patch.object(counter.client, "_make_api_call", side_effect=spy):
        # When a learner asks 5 times in a minute, then 5 more over the next minutes
        outcomes = [counter.consume("eve", windows, 1, now) for _ in range(5)]
        outcomes.append(counter.consume("eve", windows, 1, now))
        outcomes += [counter.consume("eve", windows, 1, now + 60 * i) for i in range(1, 4)]
    # Then each request was one UpdateItem; the sixth in the minute was refused by the minute, and the hour's
    # eighth was its last
    assert requests == ["UpdateItem"] * 9
    assert outcomes == [None] * 5 + ["minute", None, None, None]
    assert counter.consume("eve", windows, 1, now + 240) == "hour"
