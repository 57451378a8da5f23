"""HTTP caching of content reads against moto: ETag and Cache-Control on GET /v1/content/{content_id} and on hits of
GET /v1/content, and If-None-Match answered 304 without a body (RFC 9110 13.1.2)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest

from functions.get_content import app as get_content
from pregen.domain.clock import FrozenClock
from pregen.wiring import library as library_wiring
from pregen.wiring import serve as serve_wiring
from tests.integration.conftest import Aws, api_event, call, run_worker
from tests.integration.test_library import LESSON, generated, read, regenerate, serve_the_regenerated


@pytest.fixture(autouse=True)
def _fresh_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests vote or regenerate in one function and read in another at once: the hot-key cache would answer
    the version read a moment ago for HOT_CACHE_SECONDS (the staleness it allows), so it is off here."""
    monkeypatch.setenv("HOT_CACHE_SECONDS", "0")


PERSONAL = {**LESSON, "scope": "personal"}


def get(
    query: dict[str, str] = LESSON, sub: str = "alice", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    event = api_event("get_content.json", sub=sub, query=query)
    event["headers"].update(headers or {})
    return call(get_content, event)


def test_a_shared_version_by_id_is_public_immutable_and_tagged_with_its_id(aws: Aws) -> None:
    content_id = generated(aws)["content_id"]
    status, headers, _ = read(content_id)
    assert status == 200
    assert headers["etag"] == f'"{content_id}"'
    assert headers["cache-control"] == "public, max-age=86400, immutable"
    assert "vary" not in headers  # the same bytes for every learner


def test_a_personal_version_by_id_is_private_and_varies_by_the_caller(aws: Aws) -> None:
    content_id = generated(aws, PERSONAL)["content_id"]
    status, headers, _ = read(content_id)
    assert status == 200
    assert headers["etag"] == f'"{content_id}"'
    assert headers["cache-control"] == "private, max-age=86400, immutable"
    assert headers["vary"] == "Authorization"


def test_a_hit_names_its_served_version_and_is_kept_a_minute(aws: Aws) -> None:
    shared = generated(aws)
    status, headers, _ = get()
    assert status == 200
    assert headers["etag"] == f'"{shared["content_id"]}"'
    assert headers["cache-control"] == "public, max-age=60"
    assert "vary" not in headers
    personal = generated(aws, PERSONAL)
    status, headers, _ = get(PERSONAL)
    assert headers["etag"] == f'"{personal["content_id"]}"'
    assert headers["cache-control"] == "private, max-age=60"
    assert headers["vary"] == "Authorization"


def test_a_miss_has_no_entity_tag_and_if_none_match_does_not_turn_it_into_a_304(aws: Aws) -> None:
    status, headers, body = get(headers={"if-none-match": "*"})
    assert status == 202
    assert body["job_id"]
    assert "etag" not in headers
    assert "cache-control" not in headers


def test_no_copy_outlives_its_content(aws: Aws) -> None:
    hit = generated(aws)
    expires_at = hit["expires_at"]
    # Given 100 s of the content's life left: the version is kept 100 s, the hit still its minute
    for deps in (serve_wiring.serve_deps(), library_wiring.library_deps().serve):
        deps.clock = FrozenClock(expires_at - 100)
    assert read(hit["content_id"])[1]["cache-control"] == "public, max-age=100, immutable"
    assert get()[1]["cache-control"] == "public, max-age=60"
    # Given 30 s left, the hit is kept 30 s
    for deps in (serve_wiring.serve_deps(), library_wiring.library_deps().serve):
        deps.clock = FrozenClock(expires_at - 30)
    assert get()[1]["cache-control"] == "public, max-age=30"


@pytest.mark.parametrize("route", ["version", "served"])
def test_if_none_match_with_the_etag_is_a_304_without_a_body(aws: Aws, route: str) -> None:
    content_id = generated(aws)["content_id"]

    def ask(condition: str) -> tuple[int, dict[str, str], Any]:
        return (
            read(content_id, headers={"if-none-match": condition})
            if route == "version"
            else get(headers={"if-none-match": condition})
        )

    _, full, body = ask('"not-this-one"')
    assert body is not None
    lines_before = len(aws.usage_lines)
    status, headers, body = ask(f'"{content_id}"')
    assert status == 304
    assert body is None
    # The 304 carries the caching headers the 200 had (RFC 9110 15.4.5), and no body's type
    assert headers["etag"] == full["etag"] == f'"{content_id}"'
    assert headers["cache-control"] == full["cache-control"]
    assert "content-type" not in headers
    if route == "served":  # the learner uses the copy they hold: still a hit, counted from its log line
        assert headers["x-cache"] == "HIT"
        assert len(aws.usage_lines) == lines_before + 1


IF_NONE_MATCH_FORMS = [
    # (the field, with {id} standing for the content id; whether it names the current version)
    ('"{id}"', True),
    ('W/"{id}"', True),  # If-None-Match compares weakly
    ('"a", "{id}"', True),
    ('"a",W/"{id}" , "b"', True),
    ('"a", , "{id}",', True),  # empty list members are allowed
    ("*", True),  # any current representation
    (" * ", True),
    ('"a", "b"', False),
    ('W/"a"', False),
    ('"{id}x"', False),
    ("{id}", False),  # not quoted: not an entity tag, so the field is ignored
    ('w/"{id}"', False),  # W/ is case-sensitive
    ('W/ "{id}"', False),
    ('"{id}" junk', False),
    ('"{id}", junk', False),  # one member that is not an entity tag: the whole field is ignored
    ('"a", *', False),  # * stands alone
    ("", False),
]


@pytest.mark.parametrize(("form", "matches"), IF_NONE_MATCH_FORMS)
def test_if_none_match_forms_follow_rfc_9110(aws: Aws, form: str, matches: bool) -> None:
    content_id = generated(aws)["content_id"]
    condition = {"if-none-match": form.replace("{id}", content_id)}
    expected = 304 if matches else 200
    status, _, body = read(content_id, headers=condition)
    assert status == expected
    assert (body is None) == matches
    status, _, body = get(headers=condition)
    assert status == expected
    assert (body is None) == matches


def test_a_new_served_version_is_a_new_etag(aws: Aws) -> None:
    first = generated(aws)
    old_tag = get()[1]["etag"]
    assert get(headers={"if-none-match": old_tag})[0] == 304
    # When a teacher's regeneration makes a new version, which is then served
    regenerate(first["content_id"], "A clearer example")
    run_worker(aws)
    serve_the_regenerated(first["content_id"])
    # Then the client's old tag no longer matches: it gets the new version, with its own tag
    status, headers, body = get(headers={"if-none-match": old_tag})
    assert status == 200
    assert body["content_id"] != first["content_id"]
    assert headers["etag"] == f'"{body["content_id"]}"' != old_tag
    assert get(headers={"if-none-match": headers["etag"]})[0] == 304
    # And the old version, read by its id, still answers 304 to its own tag: its body has not changed
    assert read(first["content_id"], headers={"if-none-match": old_tag})[0] == 304


def test_a_matching_tag_does_not_reveal_another_learners_personal_version(aws: Aws) -> None:
    content_id = generated(aws, PERSONAL)["content_id"]
    tag = {"if-none-match": f'"{content_id}"'}
    status, _, body = read(content_id, sub="bob", headers=tag)
    assert status == 404
    assert body["error"]["code"] == "not_found"
    assert read(content_id, sub="bob", headers={"if-none-match": "*"})[0] == 404
    assert read(content_id, sub="alice", headers=tag)[0] == 304
    assert read(content_id, sub="ops", role="admin", headers=tag)[0] == 304


def test_a_held_version_is_answered_without_reading_its_body(aws: Aws) -> None:
    content_id = generated(aws)["content_id"]
    store = library_wiring.library_deps().library
    calls: list[str] = []
    original = store.client._make_api_call  # type: ignore[attr-defined]

    def spy(operation: str, params: dict[str, Any]) -> Any:
        calls.append(f"{operation}:{params.get('Key', {}).get('sk', {}).get('S', '').split('#')[0]}")
        return original(operation, params)

    with mock.patch.object(store.client, "_make_api_call", side_effect=spy):  # type: ignore[attr-defined]
        assert read(content_id, headers={"if-none-match": f'"{content_id}"'})[0] == 304
        assert calls == ["GetItem:vstats"]
        calls.clear()
        assert read(content_id)[0] == 200
        assert calls == ["GetItem:vstats", "GetItem:version"]
