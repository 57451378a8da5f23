"""Spend allowances per role against moto: charged in microdollars of estimated model work before anything is
enqueued; 429 with Retry-After past what is left of a window, 422 for a request no window could ever hold, the
RateLimit-* headers on every charged answer, hits untouched."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest

from functions.get_content import app as get_content
from functions.pre_generate import app as pre_generate
from pregen.adapters.limits import DynamoRateCounter
from pregen.domain.clock import FrozenClock
from pregen.domain.limits import Consumed, RateLimits
from pregen.domain.models import ContentRequest, Role
from pregen.domain.spend import MICRO
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
def price() -> int:
    """One lesson's estimated price (microdollars), as the deployment prices it."""
    deps = serve_wiring.serve_deps()
    assert deps.limiter is not None
    return deps.limiter.estimator.content(ContentRequest.model_validate(lesson("Cells")))


@pytest.fixture
def clock(aws: Aws, price: int) -> FrozenClock:
    """Room for 3.5 lessons a minute for students, 5.5 for teachers; a clock 10 s into a minute."""
    deps = serve_wiring.serve_deps()
    limits = RateLimits.model_validate(
        {
            "student": {"minute": 3.5 * price / MICRO, "day": 100 * price / MICRO},
            "teacher": {"minute": 5.5 * price / MICRO},
        }
    )
    assert deps.limiter is not None
    deps.limiter = GenerationLimiter(counter=deps.limiter.counter, limits=limits, estimator=deps.limiter.estimator)
    now = time.time()  # near the real time: the worker stores content with the system clock
    frozen = FrozenClock(at=now - now % 60 + 10)
    deps.clock = frozen
    return frozen


def test_a_lesson_costs_about_a_cent_and_a_practice_exam_question_set_more() -> None:
    # Given the deployment's estimator (small model for lessons, large for exams)
    from pregen.config.settings import RateLimitSettings

    estimator = RateLimitSettings.model_validate({}).estimator()
    one = estimator.content(ContentRequest.model_validate(lesson("Cells")))
    # Then a lesson is priced at about a cent, and a 225-question exam at tens of cents on the large tier
    assert 0.002 * MICRO < one < 0.03 * MICRO
    assert estimator.exam(225) > 20 * one


def test_an_exam_is_priced_as_the_section_calls_the_worker_makes_so_claims_stay_within_the_allowance() -> None:
    # Given the deployment's estimator and the catalogue's exams, written section by section (each call sends the
    # prompt again)
    from pregen.config.settings import RateLimitSettings
    from pregen.domain.models import Kind
    from pregen.domain.programs import default_catalogue, plan_sections
    from pregen.domain.spend import SECTIONS_STEP, TOKENS_PER_ITEM
    from pregen.services.exams import exam_price

    settings = RateLimitSettings.model_validate({})
    estimator = settings.estimator()
    model = settings.model_for(Kind.EXAM, SECTIONS_STEP)
    for exam_type in ("diagnostic", "practice"):
        program = default_catalogue().program_for(exam_type)
        sections = plan_sections(program, exam_type, "priced")
        # When an exam is priced
        price = exam_price(program, exam_type, estimator)
        # Then it is what its section calls cost, each at the estimate, not one call's worth of the questions
        calls = sum(estimator.call(model, TOKENS_PER_ITEM * spec.count) for spec in sections)
        assert len(sections) > 1
        assert price == calls
        assert price > estimator.exam(program.exam_types[exam_type].questions)


def test_a_miss_charged_in_another_environment_is_reported_as_an_upper_bound_until_a_refusal_reads_it(
    aws: Aws, clock: FrozenClock, price: int
) -> None:
    # Given a student who missed twice through another environment (its limiter counted in the same table)
    deps = serve_wiring.serve_deps()
    assert deps.limiter is not None
    here = deps.limiter
    deps.limiter = GenerationLimiter(counter=here.counter, limits=here.limits, estimator=here.estimator)
    for topic in ("Cells", "Tissues"):
        assert get(lesson(topic))[0] == 202
    deps.limiter = here
    # When they miss here: the claim counts the charge in its one write, which returns no counts
    status, headers, _ = get(lesson("Organs"))
    # Then the answer's remaining is what this environment knows (its own charge only): at most that is left
    allowed = round(3.5 * price)
    assert (status, int(headers["ratelimit-remaining"])) == (202, allowed - price)
    # And a refusal, which returns the counts as they stood, reports (and teaches this environment) the truth
    status, headers, _ = get(lesson("Systems"))
    assert (status, int(headers["ratelimit-remaining"])) == (429, allowed - 3 * price)
    assert here.known("alice", here.limits.for_role(Role.STUDENT).windows(), clock.now())["minute"] == 3 * price


def test_past_the_minute_allowance_a_miss_is_429_with_retry_after_and_the_limit_named(
    aws: Aws, clock: FrozenClock, price: int
) -> None:
    # Given a student who already missed 3 times this minute (each answer saying what is left)
    remaining = []
    for topic in ("Cells", "Tissues", "Organs"):
        status, headers, _ = get(lesson(topic))
        assert status == 202
        remaining.append(int(headers["ratelimit-remaining"]))
        assert headers["ratelimit-limit"] == str(round(3.5 * price))
    assert remaining == [round(3.5 * price) - n * price for n in (1, 2, 3)]
    # When they miss a fourth time
    status, headers, body = get(lesson("Systems"))
    # Then 429 says which limit, what is left and when it frees up (50 s: the rest of the minute); nothing enqueued
    assert status == 429
    assert headers["retry-after"] == "50"
    assert headers["ratelimit-remaining"] == str(round(3.5 * price) - 3 * price)
    assert body["error"]["code"] == "rate_limited"
    detail = body["error"]["details"][0]
    assert (detail["limit"], detail["allowed"], detail["cost"], detail["unit"]) == (
        "student.minute",
        round(3.5 * price),
        price,
        "microdollars",
    )
    assert aws.depth("InteractiveQueue") == 3
    # And another learner is not affected, and the next minute the student may ask again
    assert get(lesson("Systems"), sub="bob")[0] == 202
    clock.advance(50)
    assert get(lesson("Systems"))[0] == 202


def test_a_request_that_no_window_could_hold_is_a_422_not_a_429_that_never_ends(aws: Aws, clock: FrozenClock) -> None:
    # When a student pre-generates 4 new lessons at once, more than their whole minute allows (3.5 lessons)
    body = {"requests": [lesson(t) for t in ("A", "B", "C", "D")]}
    status, headers, answer = call(pre_generate, api_event("pregenerate.json", sub="ivy", role="student", body=body))
    # Then the answer says waiting will never help: 422 without Retry-After, and nothing was enqueued or counted
    assert status == 422
    assert "retry-after" not in headers
    assert answer["error"]["code"] == "over_allowance"
    assert answer["error"]["details"][0]["limit"] == "student.minute"
    assert aws.depth("InteractiveQueue") == 0
    assert get(lesson("A"), sub="ivy")[0] == 202  # the allowance is untouched


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

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append("consume")
        return original(*args, **kwargs)

    counter.consume = spy  # type: ignore[method-assign]
    # When they read the cached lesson again and again
    for _ in range(10):
        status, headers, _ = get(lesson("Cells"))
        # Then every read is a hit, with no spend header, and the limiter was not even asked
        assert (status, headers["x-cache"]) == (200, "HIT")
        assert "ratelimit-remaining" not in headers
    assert calls == []


def test_teachers_get_a_larger_allowance_than_students(aws: Aws, clock: FrozenClock) -> None:
    assert [get(lesson(f"T{i}"), role="teacher")[0] for i in range(6)] == [202] * 5 + [429]
    assert [get(lesson(f"S{i}"), sub="sam")[0] for i in range(4)] == [202] * 3 + [429]


def test_pregenerate_charges_only_keys_that_will_generate_and_refuses_a_batch_whole(
    aws: Aws, clock: FrozenClock
) -> None:
    def pregen(topics: list[str]) -> tuple[int, dict[str, str], Any]:
        body = {"requests": [lesson(t) for t in topics]}
        return call(pre_generate, api_event("pregenerate.json", sub="carol", role="student", body=body))

    # Given one cached lesson
    assert pregen(["Cells"])[0] == 202
    run_worker(aws)
    # When a batch holds the cached one and a duplicate: 2 keys will generate (1 + 2 = 3 lessons of 3.5)
    status, _, body = pregen(["Cells", "Tissues", "Organs", "Organs"])
    assert status == 202
    assert [r["status"] for r in body["results"]] == ["cached", "queued", "queued", "queued"]
    # Then one more key is over what is left: 429, and nothing of that batch was enqueued
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
    assert counter.consume("dora", windows, 2, now).used == {"minute": 2, "day": 2}
    # When the minute is full, the request is refused by the minute...
    assert counter.consume("dora", windows, 1, now).refused == "minute"
    # ...and the day did not count it: a minute later 1 more fits the day (2 + 1 = 3), then the day is full
    assert counter.consume("dora", windows, 1, now + 60) == Consumed(refused=None, used={"minute": 1, "day": 3})
    assert counter.consume("dora", windows, 1, now + 120).refused == "day"
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
        outcomes = [counter.consume("eve", windows, 1, now).refused for _ in range(5)]
        outcomes.append(counter.consume("eve", windows, 1, now).refused)
        outcomes += [counter.consume("eve", windows, 1, now + 60 * i).refused for i in range(1, 4)]
    # Then each request was one UpdateItem; the sixth in the minute was refused by the minute, and the hour's
    # eighth was its last
    assert requests == ["UpdateItem"] * 9
    assert outcomes == [None] * 5 + ["minute", None, None, None]
    assert counter.consume("eve", windows, 1, now + 240).refused == "hour"


def test_past_the_daily_ceiling_no_generation_starts_until_the_next_day_and_hits_are_still_served(
    aws: Aws, clock: FrozenClock
) -> None:
    from functions.warm import app as warm_fn
    from pregen.adapters.counters import DynamoCounters
    from pregen.services.limits import SpendCeiling, day_of

    # Given a cached lesson, a ceiling of $5 a day, and $4.999 already spent today by the worker (the day counters)
    assert get(lesson("Cells"))[0] == 202
    run_worker(aws)
    deps = serve_wiring.serve_deps()
    assert deps.limiter is not None
    counters = DynamoCounters(aws.resources.tables["CountersTable"])
    deps.limiter.ceiling = SpendCeiling(5.0, counters, cache_s=0)
    spent_before = sum(
        v
        for k, v in counters.read_days([day_of(clock.now())]).get(day_of(clock.now()), {}).items()
        if k.startswith("cost_usd#")
    )
    counters.add(day_of(clock.now()), {"cost_usd#lesson": 4.999 - spent_before}, clock.now())
    # When a learner misses (a lesson costs about a cent: past the ceiling)
    status, headers, body = get(lesson("Tissues"), sub="zoe")
    # Then 503 says the ceiling was reached and to come back at the next UTC day; nothing is enqueued or charged
    assert status == 503
    assert body["error"]["code"] == "spend_ceiling"
    assert int(headers["retry-after"]) == 86_400 - int(clock.now()) % 86_400
    assert aws.depth("InteractiveQueue") == 0
    # And the operator's own warming (charged to nobody) is refused too, while a hit is served as ever
    event = api_event("warm.json", sub="ops", role="admin", body={"grade": "10", "subjects": ["math"]})
    assert call(warm_fn, event)[0] == 503
    assert get(lesson("Cells"), sub="zoe")[:2][0] == 200
    # And the next day generation starts again
    clock.advance(86_400 - int(clock.now()) % 86_400 + 1)
    assert get(lesson("Tissues"), sub="zoe")[0] == 202
