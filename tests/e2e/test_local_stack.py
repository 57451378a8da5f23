"""The local stack over real HTTP: miss → 202 → poll → 200 → hit, and the JWT authorizer's answers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from pregen_tools import tokens

pytestmark = pytest.mark.e2e


def http(url: str, token: str | None = None, method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], Any]:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(raw or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(raw or b"null")


def test_the_suites_stack_runs_the_instant_model_it_asked_for(stack: dict[str, str]) -> None:
    # `make run` has the realistic model; the e2e suite names instant (tests/e2e/conftest.py) and the stack says so
    assert stack["generator"] == "offline"
    assert stack["model_latency"] == "instant (no wait)"


def test_miss_poll_hit_over_http(stack: dict[str, str]) -> None:
    token = tokens.mint("e2e-alice", "student")
    url = f"{stack['url']}/v1/content?kind=question_set&subject=Algebra%201&topic=Slopes&question_type=numeric&count=4"
    # Given an empty cache, the first request is a miss with a job to follow
    status, headers, _ = http(url, token)
    assert status == 202
    assert headers["x-cache"] == "MISS"
    location = headers["location"]
    # When we poll the job until it is done (the poller feeds the worker in the background)
    deadline = time.monotonic() + 30
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, _, job = http(f"{stack['url']}{location}", token)
        if job["status"] in {"done", "failed"}:
            break
        time.sleep(0.3)
    # Then the job is done with four numeric questions
    assert job["status"] == "done", job
    questions = job["content"]["content"]["questions"]
    assert len(questions) == 4
    assert {q["type"] for q in questions} == {"numeric"}
    # And the same request is now a hit, for another learner too (shared scope)
    status, headers, hit = http(url, tokens.mint("e2e-bob"))
    assert status == 200
    assert headers["x-cache"] == "HIT"
    assert hit["content"] == job["content"]["content"]


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "abc.def.ghi"],
)
def test_missing_or_malformed_tokens_are_401(stack: dict[str, str], token: str) -> None:
    status, _, body = http(f"{stack['url']}/v1/content?kind=lesson&subject=x", token or None)
    assert status == 401
    assert body == {"message": "Unauthorized"}


def test_wrongly_signed_and_expired_tokens_are_401(stack: dict[str, str], tmp_path: Any) -> None:
    url = f"{stack['url']}/v1/content?kind=lesson&subject=x"
    forged = tokens.mint("mallory", "admin", key_file=tmp_path / "other-key.pem")
    expired = tokens.mint("alice", ttl_seconds=-120)
    assert http(url, forged)[0] == 401
    assert http(url, expired)[0] == 401


def test_unknown_routes_are_404_and_admin_routes_need_admin(stack: dict[str, str]) -> None:
    student = tokens.mint("e2e-carol", "student")
    admin = tokens.mint("e2e-ops", "admin")
    assert http(f"{stack['url']}/v1/nothing", student)[0] == 404
    assert http(f"{stack['url']}/v1/analytics", student)[0] == 403
    status, _, figures = http(f"{stack['url']}/v1/analytics", admin)
    assert status == 200
    assert set(figures["queues"]) == {"interactive", "interactive_dlq", "background", "background_dlq"}


def _until_done(stack: dict[str, str], location: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        _, _, job = http(f"{stack['url']}{location}", token)
        if job["status"] in {"done", "failed"}:
            break
        time.sleep(0.3)
    return job


def test_library_vote_and_regenerate_over_http(stack: dict[str, str]) -> None:
    student = tokens.mint("e2e-dora", "student")
    teacher = tokens.mint("e2e-tom", "teacher")
    url = f"{stack['url']}/v1/content?kind=vocabulary_drill&subject=Spanish&topic=Food&language=spanish&count=4"
    # Given a vocabulary drill generated through the stack
    status, headers, _ = http(url, student)
    assert status == 202
    assert _until_done(stack, headers["location"], student)["status"] == "done"
    _, _, hit = http(url, student)
    content_id = hit["content_id"]
    assert len(hit["content"]["items"]) == 4
    # When a learner votes it down with a comment and a teacher asks for a new version
    status, _, voted = http(
        f"{stack['url']}/v1/content/{content_id}/votes", student, "POST", {"vote": "down", "comment": "Too easy"}
    )
    assert status == 200
    assert voted["votes"] == {"up": 0, "down": 1, "net": -1}
    assert http(f"{stack['url']}/v1/content/{content_id}/regenerate", student, "POST", {"reason": "x" * 5})[0] == 403
    status, headers, _ = http(
        f"{stack['url']}/v1/content/{content_id}/regenerate", teacher, "POST", {"reason": "Needs harder words"}
    )
    assert status == 202
    assert _until_done(stack, headers["location"], teacher)["status"] == "done"
    # Then the key has two versions, and the old one stays served: a regenerated shared version waits until it is
    # approved or out-votes the old one
    status, _, listing = http(f"{stack['url']}/v1/content/{content_id}/versions", student)
    assert status == 200
    assert len(listing["versions"]) == 2
    served_now = [v["content_id"] for v in listing["versions"] if v["served"]]
    new_id = next(v["content_id"] for v in listing["versions"] if v["content_id"] != content_id)
    assert served_now == [content_id]
    # When a learner votes the new version up (net 1 against the old one's -1), it is served to everyone
    assert http(f"{stack['url']}/v1/content/{new_id}/votes", student, "POST", {"vote": "up"})[0] == 200
    # (within HOT_CACHE_SECONDS: the get-content environment that served the old version may answer it from its
    # hot-key cache for that long, the staleness docs/CAPACITY.md allows)
    deadline = time.monotonic() + 5 + 5
    while (served := http(url, student)[2]["content_id"]) == content_id and time.monotonic() < deadline:
        time.sleep(0.25)
    assert served == new_id != content_id
