"""Warming and navigation through the local stack's HTTP front: routes from template.yaml, JWT claims honoured."""

from __future__ import annotations

import pytest

from pregen_tools import tokens
from tests.e2e.test_local_stack import http

pytestmark = pytest.mark.e2e


def test_warm_and_navigate_over_http(stack: dict[str, str]) -> None:
    token = tokens.mint("e2e-wendy", "student")
    # Given a token without a grade, the body names it
    status, _, report = http(f"{stack['url']}/v1/warm", token, "POST", {"grade": "10", "subjects": ["social_studies"]})
    assert status == 202
    assert (report["requested"], report["source"]) == (15, "body")
    assert report["queued"] + report["in_flight"] + report["cached"] == 15
    # A bad grade is a 400 with a JSON error
    status, _, error = http(f"{stack['url']}/v1/warm", token, "POST", {"grade": "99"})
    assert status == 400
    assert error["error"]["code"] == "invalid_request"
    # A navigation event is recorded and predicts at cold start
    move = {
        "subject": "Social Studies",
        "grade": "10",
        "from": {"step": "learn", "skill": "World War I"},
        "to": {"step": "experience", "skill": "World War I"},
    }
    status, _, outcome = http(f"{stack['url']}/v1/events/navigation", token, "POST", move)
    assert status == 202
    assert outcome["recorded"] == "learn->experience"
    assert {p["target"] for p in outcome["preloads"]} == {"discover", "assessment"}
