"""Every route in template.yaml x every way a caller can be wrong, over HTTP against the local stack.

Tokens: none, malformed, signed with another key, expired (all 401 from the JWT authorizer), and valid ones
as a student and as an admin. Each route's request is its sample event in events/ (by routeKey), so a new
route is covered as soon as it has a sample event and is listed below as admin-only or open to learners.
A learner's personal job is not visible to another learner (404), only to its owner and admins.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from aws_emulator import devjwt
from aws_emulator.template import ROOT, Route, Template
from pregen_tools import tokens

pytestmark = pytest.mark.e2e

# Which role each route needs. Every route must be in exactly one of these sets.
ADMIN_ONLY = {
    "GET /v1/analytics",
    "POST /v1/ops/cron/{task}",
    "GET /v1/ops/cron/runs/{run_id}",
    "POST /v1/cron/run",
    "DELETE /v1/learners/{learner}",  # a learner erases their own data with DELETE /v1/me
    "GET /v1/learners/{learner}/erasure",  # ...and reads its status at GET /v1/me/erasure
    "DELETE /v1/aliases/{key}",  # a near-duplicate's verified alias, revoked
}
TEACHERS = {  # teacher or admin
    "POST /v1/content/{content_id}/regenerate",
    "POST /v1/courses/{course}/shares",
    "DELETE /v1/courses/{course}/shares/{share}",
    "PUT /v1/courses/{course}/parts/{part}/pin",
    "DELETE /v1/courses/{course}/parts/{part}/pin",
}
LEARNERS = {
    "GET /v1/content",
    "GET /v1/jobs/{job_id}",
    "POST /v1/pregenerate",
    "GET /v1/content/{content_id}",
    "GET /v1/content/{content_id}/versions",
    "POST /v1/content/{content_id}/votes",
    "POST /v1/warm",
    "POST /v1/events/navigation",
    "POST /v1/exams/{exam}/claim",
    "POST /v1/exams/warm",
    "GET /v1/me/content",
    "DELETE /v1/me",
    "GET /v1/me/erasure",
    "GET /v1/exams/{exam}/inventory",
    "GET /v1/exams/{exam}",
    "POST /v1/exams/{exam}/answers",
    "GET /v1/exams/{exam}/attempt",
    "POST /v1/courses",
    "GET /v1/courses",
    "GET /v1/courses/{course}",
    "POST /v1/courses/{course}/retry",
}

ROUTES = Template().routes()


def _key(route: Route) -> str:
    return f"{route.method} {route.path}"


def _samples() -> dict[str, dict[str, Any]]:
    samples = {}
    for path in sorted((ROOT / "events").glob("*.json")):
        event = json.loads(path.read_text())
        if "routeKey" in event:
            samples[event["routeKey"]] = event
    return samples


SAMPLES = _samples()


def _call(base: str, route: Route, authorization: str | None) -> tuple[int, dict[str, str], Any]:
    sample = SAMPLES[_key(route)]
    url = base + sample["rawPath"] + (f"?{sample['rawQueryString']}" if sample.get("rawQueryString") else "")
    body = sample.get("body")
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    request = urllib.request.Request(url, data=body.encode() if body else None, headers=headers, method=route.method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers.items()), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read() or b"null")


def _foreign_token() -> str:
    """Claims the authorizer would accept, signed with a key that is not the issuer's."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {"sub": "mallory", "cognito:groups": ["admin"], "iss": devjwt.ISSUER, "aud": devjwt.AUDIENCE, "iat": now}
    return jwt.encode({**claims, "exp": now + 600}, other, algorithm="RS256", headers={"kid": "pregen-local"})


BAD_TOKENS = {
    "no token": None,
    "not a bearer token": "Basic YWxpY2U6c2VjcmV0",
    "malformed": "Bearer not.a.jwt",
    "wrong signature": f"Bearer {_foreign_token()}",
    "expired": f"Bearer {tokens.mint('alice', 'admin', ttl_seconds=-120)}",
    "another audience": f"Bearer {tokens.mint('alice', 'admin', extra={'aud': 'someone-else'})}",
}


def test_every_route_is_classified_and_has_a_sample_event() -> None:
    keys = {_key(r) for r in ROUTES}
    assert not ADMIN_ONLY & LEARNERS and not TEACHERS & (ADMIN_ONLY | LEARNERS)
    assert keys == ADMIN_ONLY | TEACHERS | LEARNERS, "list a new route in ADMIN_ONLY, TEACHERS or LEARNERS"
    assert keys <= set(SAMPLES), "add a sample event (with its routeKey) to events/ for every route"


@pytest.mark.parametrize("route", ROUTES, ids=_key)
@pytest.mark.parametrize("case", list(BAD_TOKENS), ids=str)
def test_a_bad_token_is_refused_on_every_route(stack: dict[str, str], route: Route, case: str) -> None:
    status, headers, body = _call(stack["url"], route, BAD_TOKENS[case])
    assert status == 401, (case, body)
    if route.authorized:  # the JWT authorizer's own answer
        assert body == {"message": "Unauthorized"}
        assert headers.get("www-authenticate", "").startswith("Bearer")
    else:  # no authorizer in front: the function refuses it, in the API's error format
        assert body["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("route", ROUTES, ids=_key)
def test_roles(stack: dict[str, str], route: Route) -> None:
    student = _call(stack["url"], route, f"Bearer {tokens.mint('matrix-student', 'student')}")
    admin = _call(stack["url"], route, f"Bearer {tokens.mint('matrix-admin', 'admin')}")
    # Whatever the role, no route answers 5xx or 401 to a valid token, and an admin is never forbidden
    assert student[0] < 500, student
    assert admin[0] < 500, admin
    assert admin[0] not in {401, 403}, admin
    if _key(route) in ADMIN_ONLY | TEACHERS:
        assert student[0] == 403, student
        assert student[2]["error"]["code"] == "forbidden"
    else:
        assert student[0] not in {401, 403}, student


def test_a_learners_personal_job_is_hidden_from_other_learners(stack: dict[str, str]) -> None:
    def get(path: str, sub: str, role: str = "student") -> tuple[int, Any]:
        request = urllib.request.Request(
            stack["url"] + path, headers={"authorization": f"Bearer {tokens.mint(sub, role)}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    # Given alice asks for personal content (a job of hers)
    status, miss = get("/v1/content?kind=lesson&subject=Latin&topic=Verbs&scope=personal", "matrix-alice")
    assert status == 202
    job_path = f"/v1/jobs/{miss['job_id']}"
    # Then bob cannot see her job (404, as if it did not exist), she and an admin can
    status, body = get(job_path, "matrix-bob")
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert get(job_path, "matrix-alice")[0] == 200
    assert get(job_path, "matrix-ops", "admin")[0] == 200
    # And bob asking for the same personal content gets a job of his own, never hers
    status, bobs = get("/v1/content?kind=lesson&subject=Latin&topic=Verbs&scope=personal", "matrix-bob")
    assert status in {200, 202}
    assert bobs.get("job_id") != miss["job_id"]


def test_the_cron_trigger_takes_the_cron_secret_but_no_other(stack: dict[str, str]) -> None:
    route = next(r for r in ROUTES if _key(r) == "POST /v1/cron/run")
    assert not route.authorized  # a secret is not a JWT: the route has no authorizer, the function checks
    status, headers, accepted = _call(stack["url"], route, "Bearer local-cron-secret")
    assert status == 202, accepted
    assert accepted["task"] == "inventory_topup"
    run = _follow(stack["url"], {k.lower(): v for k, v in headers.items()}["location"])
    assert run["status"] == "done", run
    assert {"learners_seen", "exams_enqueued"} <= set(run["result"])
    assert _call(stack["url"], route, "Bearer local-cron-secreT")[0] == 401


def _follow(base: str, location: str, timeout_s: float = 120) -> dict[str, Any]:
    """GET a cron run's Location (as an admin) until it is done or failed."""
    token = tokens.mint("matrix-ops", "admin")
    deadline = time.monotonic() + timeout_s
    while True:
        request = urllib.request.Request(base + location, headers={"authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            run: dict[str, Any] = json.loads(response.read())
        if run["status"] in {"done", "failed"} or time.monotonic() > deadline:
            return run
        time.sleep(0.5)


def test_every_cron_task_answers_before_its_run_ends_and_its_run_ends_done(stack: dict[str, str]) -> None:
    """Issue 27: POST /v1/ops/cron/{task} answers at once for every task: its 202 names a run that has not ended
    (queued, or running when it joined one), so the task ran outside the request, from the operator tasks queue;
    each run is then followed to its end. The floor's time (every answer under 1 s) is a benchmark's figure,
    measured side by side on a quiet stack (``python -m bench cron_answers``, docs/BENCHMARKS.md), not a timed
    assertion on a shared machine (one run here took 1.2 s for an environment's first request under CI's load)."""
    from pregen.services.schedules import TASKS

    token = tokens.mint("matrix-ops", "admin")
    locations = {}
    for task in TASKS:
        request = urllib.request.Request(
            f"{stack['url']}/v1/ops/cron/{task}", method="POST", headers={"authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202
            answer = json.loads(response.read())
            assert (answer["task"], answer["status"] in {"queued", "running"}) == (task, True), answer
            locations[task] = response.headers["location"]
    for task, location in locations.items():
        run = _follow(stack["url"], location)
        assert (run["task"], run["status"]) == (task, "done"), run


@pytest.mark.parametrize("method", ["TRACE", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_a_method_no_route_declares_gets_api_gateways_404(stack: dict[str, str], method: str) -> None:
    # Given every route's path, and a method that none of the routes on that path declares
    declared = {(r.method, r.path) for r in ROUTES}
    for route in ROUTES:
        if (method, route.path) in declared:
            continue
        path = route.path.replace("{content_id}", "c").replace("{job_id}", "j").replace("{exam}", "diagnostic")
        path = path.replace("{task}", "warm_all").replace("{course}", "0" * 32).replace("{run_id}", "0" * 32)
        # When it is sent, with a valid admin token
        request = urllib.request.Request(
            f"{stack['url']}{path}", method=method, headers={"Authorization": f"Bearer {tokens.mint('ops', 'admin')}"}
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        # Then the answer is API Gateway's: 404 with a JSON message (no body for HEAD)
        assert answer.value.code == 404, f"{method} {path}"
        assert answer.value.headers["content-type"] == "application/json"
        if method != "HEAD":
            assert json.loads(answer.value.read()) == {"message": "Not Found"}
