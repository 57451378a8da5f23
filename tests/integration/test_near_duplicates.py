"""Near-duplicate requests served from the library, verified (issue 33), through the functions against moto: the
sets of tests/data/near_duplicates.json, the alias's cost on the request path, analytics and the admin's revoke."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from functions.analytics import app as analytics_app
from functions.get_content import app as get_content
from functions.library import app as library
from pregen.wiring.library import library_deps
from tests.integration.conftest import Aws, api_event, call, deliver_usage_lines, freeze, run_worker
from tests.integration.test_serve_flow import _spy_requests

SETS = json.loads((Path(__file__).resolve().parents[1] / "data" / "near_duplicates.json").read_text())
T0 = 1_799_000_000.0  # 2027-01-03, a fixed instant: the counters' days do not depend on the calendar


def query(request: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in request.items()}


def get(request: dict[str, Any], sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    return call(get_content, api_event("get_content.json", sub=sub, query=query(request)))


def get_job(job_id: str, sub: str = "alice") -> Any:
    event = api_event("get_job.json", sub=sub, path=f"/v1/jobs/{job_id}", path_parameters={"job_id": job_id})
    return call(get_content, event)[2]


def revoke(key: str, role: str = "admin") -> tuple[int, Any]:
    event = api_event(
        "library_revoke_alias.json", sub="ops", role=role, path=f"/v1/aliases/{key}", path_parameters={"key": key}
    )
    status, _, body = call(library, event)
    return status, body


def publish_then_ask(aws: Aws, pair: dict[str, Any]) -> tuple[str, Any, Any]:
    """The first request published, then the second asked (a miss), its job run, and asked again: the first's key,
    the second's job and the second's final answer."""
    first_sub, second_sub = pair.get("subs", ["alice", "alice"])
    status, _, first = get(pair["a"], sub=first_sub)
    assert status == 202
    run_worker(aws)
    status, _, second = get(pair["b"], sub=second_sub)
    assert status == 202, "the second wording is a miss before its job runs"
    run_worker(aws)
    status, _, answer = get(pair["b"], sub=second_sub)
    assert status == 200
    return first["key"], get_job(second["job_id"], sub=second_sub), answer


def test_most_paraphrases_are_served_from_the_library_after_a_judgement(aws: Aws) -> None:
    freeze(T0)
    served = 0
    for pair in SETS["paraphrase"]:
        first_key, job, answer = publish_then_ask(aws, pair)
        judged = [entry for entry in job["history"] if entry["outcome"] == "judged"]
        if answer["key"] == first_key:
            served += 1
            # Then its job was done by the alias, after one judgement it paid for, without a generation
            assert job["status"] == "done" and job["content"]["key"] == first_key
            assert [e["outcome"] for e in job["history"]] == ["judged"]
            assert judged[0]["model"] == "offline" and judged[0]["cost_usd"] == 0
        else:
            assert [e["outcome"] for e in job["history"]][-1] == "generated"
    assert served / len(SETS["paraphrase"]) >= 0.6


def test_no_near_miss_is_served_from_the_library(aws: Aws) -> None:
    freeze(T0)
    for pair in SETS["near_miss"]:
        first_key, job, answer = publish_then_ask(aws, pair)
        assert answer["key"] != first_key, pair["why"]
        assert [e["outcome"] for e in job["history"]][-1] == "generated", pair["why"]


LESSON = {"kind": "lesson", "subject": "Biology", "topic": "Photosynthesis", "grade": "7"}
WORDING = {"kind": "lesson", "subject": "Biology", "topic": "An introduction to photosynthesis", "grade": "7"}


def test_an_alias_hit_is_found_by_the_claim_is_counted_apart_and_an_admin_can_revoke_it(aws: Aws) -> None:
    library_deps().serve.clock = freeze(T0)  # the revoke reads the alias on the test's clock too
    first_key, job, _ = publish_then_ask(aws, {"a": LESSON, "b": WORDING})
    wording_key = job["key"]
    # When another learner asks in that wording
    requests, spying = _spy_requests()
    with spying:
        status, headers, hit = get(WORDING, sub="bob")
    # Then it is a hit on the library's content: the exact key's read, the claim (cancelled on the alias, whose
    # item names the target: nothing written, no charge), and the target's read unless the hot cache holds it (it
    # was served a moment ago), nothing else
    assert (status, headers["x-cache"], hit["key"]) == (200, "HIT", first_key)
    assert "ratelimit-remaining" not in headers
    claim = [f"TransactWriteItems:{item}" for item in ("content", "alias", "inflight", "job", "limit")]
    assert requests[:6] == ["GetItem:content", *claim]
    assert requests[6:] in ([], ["GetItem:content"])
    marker = aws.dynamodb.get_item(
        TableName=aws.resources.tables["ContentTable"], Key={"pk": {"S": wording_key}, "sk": {"S": "inflight"}}
    )
    assert "Item" not in marker
    # And analytics counts the alias hits apart from the exact ones, and the one judgement made
    deliver_usage_lines(aws)
    status, _, figures = call(analytics_app, api_event("analytics.json", sub="ops", role="admin", query={}))
    assert status == 200
    assert (figures["aliasHits"], figures["aliasHitsByKind"]) == (2, {"lesson": 2})
    assert (figures["judged"], figures["judgeCostUsd"], figures["aliasedByKind"]) == (1, 0.0, {"lesson": 1})
    # When a teacher tries to revoke the alias, they may not; an admin may, once
    assert revoke(wording_key, role="teacher")[0] == 403
    assert revoke(wording_key) == (200, {"key": wording_key, "target": first_key})
    assert revoke(wording_key)[0] == 404
    # Then the wording goes back to generation: a miss, a job that generates (the pair is not judged again)
    status, _, again = get(WORDING, sub="bob")
    assert status == 202
    run_worker(aws)
    redone = get_job(again["job_id"], sub="bob")
    assert [e["outcome"] for e in redone["history"]] == ["generated"]
    status, _, own = get(WORDING, sub="bob")
    assert (status, own["key"]) == (200, wording_key)


@pytest.mark.parametrize("key", ["nonsense", "v1-lesson-XYZ", "v1-lesson-" + "0" * 41])
def test_a_malformed_alias_key_is_a_400(aws: Aws, key: str) -> None:
    assert revoke(key)[0] == 400
