"""The exam inventory on the local stack over real HTTP: first claim 202, then a complete exam, and a refill."""

from __future__ import annotations

import time
from typing import Any

import pytest

from pregen_tools import tokens
from tests.e2e.test_local_stack import http

pytestmark = pytest.mark.e2e


def _wait_for(url: str, token: str, ready: int, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    view: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, _, view = http(url, token)
        assert status == 200, view
        if view["ready"] >= ready:
            return view
        time.sleep(0.5)
    pytest.fail(f"inventory did not reach {ready} ready exams: {view}")


def test_first_claim_waits_then_an_exam_is_handed_out_and_the_inventory_refills(stack: dict[str, str]) -> None:
    token = tokens.mint("e2e-exam-learner", "student")
    base = stack["url"]
    # Given a learner with no exams, the first claim answers 202 with the exam being generated
    status, headers, body = http(f"{base}/v1/exams/diagnostic/claim", token, method="POST")
    assert status == 202, body
    assert int(headers["retry-after"]) > 0
    assert body["job"]["status"] == "generating"
    inventory_url = f"{base}{headers['location']}"
    # When the worker has generated the sections and assembled the exams (the target is 2)
    _wait_for(inventory_url, token, ready=2)
    # Then a claim returns a complete 71-question exam (the EPPP diagnostic)
    status, _, exam = http(f"{base}/v1/exams/diagnostic/claim", token, method="POST")
    assert status == 200, exam
    assert sum(len(s["questions"]) for s in exam["exam"]["sections"]) == 71
    # And only its owner can read it
    assert http(f"{base}/v1/exams/{exam['exam_id']}", token)[0] == 200
    assert http(f"{base}/v1/exams/{exam['exam_id']}", tokens.mint("e2e-someone-else"))[0] == 404
    # And the inventory refills to the target
    view = _wait_for(inventory_url, token, ready=2)
    assert view["claimed"] == 1


def test_a_learner_who_warms_on_the_dashboard_claims_a_ready_diagnostic_within_a_minute(stack: dict[str, str]) -> None:
    token = tokens.mint("e2e-warm-learner", "student")
    base = stack["url"]
    started = time.monotonic()
    # Given a new learner whose app calls the warm when the dashboard opens
    status, _, body = http(f"{base}/v1/exams/warm", token, method="POST", body={})
    assert status == 202, body
    assert {t["exam_type"] for t in body["exam_types"]} == {"diagnostic", "practice"}
    # When the learner opens the exam page (the app polls the inventory the warm pointed at)
    _wait_for(f"{base}/v1/exams/diagnostic/inventory", token, ready=1, timeout_s=60)
    # Then within 60 s of the warm, the first claim hands out an exam (200, not 202)
    status, _, exam = http(f"{base}/v1/exams/diagnostic/claim", token, method="POST")
    assert status == 200, exam
    assert time.monotonic() - started < 60
    # And a second warm starts nothing new
    status, _, again = http(f"{base}/v1/exams/warm", token, method="POST", body={"exam_types": ["practice"]})
    assert status == 202, again
    assert again["exam_types"][0]["enqueued"] == 0
