"""Where the features meet: rate limits on every generation-triggering route, exam claims in the analytics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pregen.domain.limits import RateLimits
from pregen.services.limits import GenerationLimiter
from pregen.wiring import exams as exams_wiring
from pregen.wiring import library as library_wiring
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import api_event, call, run_worker
from tests.integration.test_exams import _claim, _drain
from tests.integration.test_library import generated, regenerate

if TYPE_CHECKING:
    from tests.integration.conftest import Aws

ONE_A_MINUTE = RateLimits.model_validate({"student": {"minute": 1}, "teacher": {"minute": 1}})


def tighten(deps: Any) -> None:
    assert deps.limiter is not None
    deps.limiter = GenerationLimiter(counter=deps.limiter.counter, limits=ONE_A_MINUTE)


@pytest.fixture
def exams() -> Any:
    from functions.exams import app

    return app


def test_a_claim_that_finds_nothing_ready_counts_against_the_allowance(aws: Aws, exams: Any) -> None:
    # Given students allowed one generation a minute
    tighten(exams_wiring.exam_deps())
    # When a learner claims with nothing ready, twice
    first = _claim(exams, sub="carol")
    second = _claim(exams, "practice", sub="carol")
    # Then the first waits for a generation (202) and the second is refused with the limit named
    assert first[0] == 202
    assert second[0] == 429
    assert second[2]["error"]["details"][0]["action"] == "claim"


def test_regeneration_counts_against_the_allowance(aws: Aws) -> None:
    content_id = generated(aws)["content_id"]
    tighten(library_wiring.library_deps().serve)
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
    # Then analytics counts the diagnostic exams generated and the claim as a use of one
    status, _, figures = call(analytics, api_event("analytics.json", sub="ops", role="admin", query={}))
    assert status == 200
    assert figures["diagnosticCount"] == 2  # the inventory's two (the replacement of the claimed one is not built yet)
    assert figures["practiceCount"] == 0
    assert figures["totalUsed"] == 1


def test_a_warm_counts_once_against_the_learners_allowance_however_many_items(aws: Aws) -> None:
    from tests.integration.test_warming_and_navigation import warm

    # Given students allowed one generation-triggering request a minute
    tighten(serve_wiring.serve_deps())
    claims = {"custom:grade": "10", "custom:subjects": "[math algebra_1]"}
    # When a student warms 30 items, then warms again
    status, report = warm(claims=claims, sub="wendy")
    again, body = warm(claims=claims, sub="wendy")
    # Then the first warm queues all 30 items (one request, not 30), and the second is refused
    assert (status, report["queued"]) == (202, 30)
    assert again == 429
    assert body["error"]["details"][0]["action"] == "warm"
    # And another learner's warm is not affected
    assert warm(claims=claims, sub="xavier")[0] == 202
