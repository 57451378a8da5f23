"""A push when work is done, over the local stack as an app developer runs it (`WEBHOOK_URL=... make run`): the
job's end reaches the app's webhook, signed, within 2 s."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from pregen.domain import webhooks
from pregen_tools import tokens
from tests.e2e.conftest import WEBHOOK_KEY
from tests.e2e.test_local_stack import http

if TYPE_CHECKING:
    from tests.e2e.conftest import WebhookReceiver

pytestmark = pytest.mark.e2e


def _events_for(webhook: type[WebhookReceiver], field: str, value: str) -> list[tuple[float, dict[str, Any], Any]]:
    found = []
    for arrived, headers, body in list(webhook.received):
        event = json.loads(body)
        if event["detail"].get(field) == value:
            found.append((arrived, headers, event))
    return found


def _miss_and_hear(stack: dict[str, str], webhook: type[WebhookReceiver], topic: str) -> tuple[Any, ...]:
    token = tokens.mint("e2e-hooked", "student")
    url = f"{stack['url']}/v1/content?kind=lesson&subject=Geography&topic={topic}&grade=7"
    status, _, body = http(url, token)
    assert status == 202, body
    job_id = body["job_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _events_for(webhook, "job_id", job_id):
        time.sleep(0.05)
    (heard,) = _events_for(webhook, "job_id", job_id)  # one event per job: a rewrite of a done job is not news
    _, _, job = http(f"{stack['url']}/v1/jobs/{job_id}", token)
    return (job_id, job, *heard)


def test_a_job_done_reaches_the_apps_webhook_signed_within_2_s(
    stack: dict[str, str], webhook: type[WebhookReceiver]
) -> None:
    # Given a first job's event (it starts the notify and webhook functions' environments: a cold start each)
    _miss_and_hear(stack, webhook, "Deltas")
    # When a learner's miss starts another job and the app waits for its webhook
    job_id, job, arrived, headers, event = _miss_and_hear(stack, webhook, "Estuaries")
    # Then one "Job Done" event for it arrived at the app's URL
    assert event["type"] == "Job Done"
    assert {k: event["detail"][k] for k in ("job_id", "status", "kind")} == {
        "job_id": job_id,
        "status": "done",
        "kind": "lesson",
    }
    # And it is signed with the stack's webhook key, over the body the app received
    raw = json.dumps(event, separators=(",", ":")).encode()
    assert webhooks.verify(WEBHOOK_KEY, headers[webhooks.HEADER], raw, now=arrived)
    # And it arrived within 2 s of the job's end as the job records it (whole seconds: the check is stricter)
    assert job["status"] == "done"
    assert arrived - job["updated_at"] <= 2.0, (arrived, job["updated_at"])


def test_each_ready_exam_is_announced_to_its_learner(stack: dict[str, str], webhook: type[WebhookReceiver]) -> None:
    token = tokens.mint("e2e-hooked-exams", "student")
    # Given a learner who opens the exam page (the app warms their inventory)
    status, _, body = http(f"{stack['url']}/v1/exams/warm", token, method="POST", body={"exam_types": ["diagnostic"]})
    assert status == 202, body
    # When the worker has assembled their first exams
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(_events_for(webhook, "owner", "e2e-hooked-exams")) < 2:
        time.sleep(0.2)
    # Then the app heard "Exam Ready" for each, naming the learner and the exam, once each
    heard = [event for _, _, event in _events_for(webhook, "owner", "e2e-hooked-exams")]
    assert len(heard) >= 2, heard
    assert {e["type"] for e in heard} == {"Exam Ready"}
    assert {e["detail"]["exam_type"] for e in heard} == {"diagnostic"}
    ids = [e["detail"]["exam_id"] for e in heard]
    assert len(ids) == len(set(ids))
    # And the exams it names are theirs to claim
    status, _, exam = http(f"{stack['url']}/v1/exams/diagnostic/claim", token, method="POST")
    assert status == 200, exam
    assert exam["exam_id"] in ids
