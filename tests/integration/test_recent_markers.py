"""A joined miss from an environment's memory of the key's marker (JOIN_MEMO_SECONDS), through get-content against
moto: one request, a key that became ready served at once, a window that ends, a finished job forgotten."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from functions.get_content import app as get_content
from pregen import wiring
from pregen.domain.models import JobStatus
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import api_event, call, freeze, run_worker
from tests.integration.test_serve_flow import _spy_requests

if TYPE_CHECKING:
    from tests.integration.conftest import Aws

LESSON = {"kind": "lesson", "subject": "Optics", "topic": "Refraction", "grade": "9"}
T0 = 1_799_000_000.0  # a fixed instant: the window is measured on the clock the test moves


@pytest.fixture
def remembering(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    monkeypatch.setenv("JOIN_MEMO_SECONDS", "2")
    wiring.reset()
    return aws


def get(sub: str) -> tuple[int, Any]:
    status, _, body = call(get_content, api_event("get_content.json", sub=sub, query=LESSON))
    return status, body


def misses(aws: Aws) -> int:
    return sum('"usage":"miss"' in line for line in aws.usage_lines)


def test_a_joined_miss_its_environment_saw_is_the_content_read_alone(remembering: Aws) -> None:
    clock = freeze(T0)
    status, won = get("alice")
    assert status == 202
    # When another learner misses the key a second later in the same environment
    clock.advance(1)
    requests, spying = _spy_requests()
    with spying:
        status, joined = get("bob")
    # Then the content's read is the only request, and the 202 names the job in flight
    assert status == 202 and joined["job_id"] == won["job_id"] and joined["status"] == "queued"
    assert requests == ["GetItem:content"]
    assert misses(remembering) == 2
    # Past the window the claim is made again (cancelled on the marker, which it learns again)
    clock.advance(2)
    with spying:
        status, again = get("carol")
    assert status == 202 and again["job_id"] == won["job_id"]
    later = requests[1:]
    assert later[0] == "GetItem:content" and later[1].startswith("TransactWriteItems:")
    assert misses(remembering) == 3


def test_a_key_that_became_ready_inside_the_window_is_served(remembering: Aws) -> None:
    freeze(T0)
    assert get("alice")[0] == 202
    run_worker(remembering)
    status, body = get("bob")
    assert status == 200 and body["key"]


def test_a_finished_job_read_by_its_environment_is_forgotten(remembering: Aws) -> None:
    freeze(T0)
    status, won = get("alice")
    assert status == 202
    serve = serve_wiring.serve_deps()
    assert serve.recent is not None and len(serve.recent) == 1
    # The job fails for good (another process releases its marker): this environment still joins it in the window
    serve.jobs.set_status(won["job_id"], JobStatus.FAILED, T0, reason="given up")
    serve.store.release_inflight(won["key"], won["job_id"])
    assert get("bob")[1]["job_id"] == won["job_id"]
    # until it reads the job as the app polls it: then the next miss claims the key afresh
    job_id = won["job_id"]
    event = api_event("get_job.json", sub="alice", path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id})
    assert call(get_content, event)[2]["status"] == "failed"
    status, fresh = get("carol")
    assert status == 202 and fresh["job_id"] != won["job_id"]
