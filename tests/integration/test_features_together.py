"""Where the features meet: spend allowances on every generation-triggering route, exam claims in the analytics."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from pregen.domain.limits import RateLimits
from pregen.domain.models import ContentRequest
from pregen.domain.warming import default_warming_config
from pregen.services.exams import exam_price as one_exam
from pregen.services.limits import GenerationLimiter
from pregen.wiring import exams as exams_wiring
from pregen.wiring import library as library_wiring
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import api_event, call, freeze, run_worker
from tests.integration.test_exams import _claim, _cron, _drain
from tests.integration.test_library import generated, regenerate

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.spend import Estimator
    from tests.integration.conftest import Aws

LESSON = ContentRequest.model_validate({"kind": "lesson", "subject": "Biology", "topic": "Cells", "grade": "8"})


def tighten(deps: Any, minute: Callable[[Estimator], float]) -> None:
    """Students and teachers allowed ``minute(price)`` microdollars a minute."""
    assert deps.limiter is not None
    dollars = minute(deps.limiter.estimator) / 1e6
    limits = RateLimits.model_validate({"student": {"minute": dollars}, "teacher": {"minute": dollars}})
    deps.limiter = GenerationLimiter(counter=deps.limiter.counter, limits=limits, estimator=deps.limiter.estimator)


def exam_price(exam_type: str, price: Estimator) -> int:
    """A learner's first claim of a type fills their inventory: the target's exams, at the type's size."""
    deps = exams_wiring.exam_deps()
    return max(deps.policy.inventory_target, 1) * one_exam(deps.catalogue.program_for(exam_type), exam_type, price)


@pytest.fixture
def exams() -> Any:
    from functions.exams import app

    return app


def test_a_claim_that_finds_nothing_ready_counts_against_the_allowance(aws: Aws, exams: Any) -> None:
    # Given students allowed a minute's spend of a first practice claim (a diagnostic costs less)
    tighten(exams_wiring.exam_deps(), lambda price: exam_price("practice", price))
    # When a learner claims with nothing ready, twice
    first = _claim(exams, sub="carol")
    second = _claim(exams, "practice", sub="carol")
    # Then the first waits for a generation (202) and the second is refused with the limit named
    assert first[0] == 202
    assert second[0] == 429
    assert second[2]["error"]["details"][0]["action"] == "claim"


def test_regeneration_counts_against_the_allowance(aws: Aws) -> None:
    # A clock stopped at the test's start for every dependency, the library's too: a minute ending between the two
    # regenerations would start a fresh window (it did once in CI, at 17:19:59.9)
    clock = freeze(time.time())
    library_wiring.library_deps().serve.clock = clock
    content_id = generated(aws)["content_id"]
    tighten(library_wiring.library_deps().serve, lambda price: 1.5 * price.content(LESSON))
    assert regenerate(content_id, "Use a simpler example")[0] == 202
    run_worker(aws)
    status, body = regenerate(content_id, "Use a different example")
    assert status == 429
    assert body["error"]["details"][0]["action"] == "regenerate"


def test_claims_and_assembled_exams_reach_the_analytics(aws: Aws, exams: Any) -> None:
    from functions.analytics import app as analytics

    # Given a learner whose first claim waits, then whose exams are generated and claimed
    assert _claim(exams, sub="dave")[0] == 202
    _drain(aws)
    assert _claim(exams, sub="dave")[0] == 200
    # And the cron's top-up has run since (it folds the counts learners' records hold into the global counters)
    assert _cron({"task": "inventory_topup"})["failed"] == 0
    # Then analytics counts the diagnostic exams generated and the claim as a use of one
    status, _, figures = call(analytics, api_event("analytics.json", sub="ops", role="admin", query={}))
    assert status == 200
    assert figures["diagnosticCount"] == 2  # the inventory's two (the replacement of the claimed one is not built yet)
    assert figures["practiceCount"] == 0
    assert figures["totalUsed"] == 1


def test_a_warm_counts_once_against_the_learners_allowance_however_many_items(aws: Aws) -> None:
    from tests.integration.test_warming_and_navigation import warm

    # Given students allowed a minute's spend of 1.5 times the 30 items of two subjects' warming, and a clock that
    # stays inside one minute (a minute ending between the warms would start a fresh window)
    freeze(1_800_000_010.0)
    config = default_warming_config()
    items = config.requests_for("10", ["math", "algebra_1"])
    assert len(items) == 30
    tighten(serve_wiring.serve_deps(), lambda price: 1.5 * price.contents(items))
    claims = {"custom:grade": "10", "custom:subjects": "[math algebra_1]"}
    # When a student warms the 30 items, then warms again
    status, report = warm(claims=claims, sub="wendy")
    again, second = warm(claims=claims, sub="wendy")
    # Then the first warm is charged the 30 items it queues; the second finds them in flight and is free
    assert (status, report["queued"]) == (202, 30)
    assert (again, second["queued"], second["in_flight"]) == (202, 0, 30)
    # And a warm of two more subjects, as large, is over what is left of the minute: refused, nothing queued
    refused, body = warm(claims={**claims, "custom:subjects": "[ela science]"}, sub="wendy")
    assert refused == 429
    assert body["error"]["details"][0]["action"] == "warm"
    # And another learner's warm of the same subjects joins what is in flight, at no charge
    assert warm(claims=claims, sub="xavier")[0] == 202
