"""HTTP caching of the reads of content (RFC 9110 section 13, RFC 9111), once for both routes that serve it.

A version's body never changes, so an answer that shows one version has a strong ETag: its content id, quoted.
``GET /v1/content/{content_id}`` shows that version; a hit of ``GET /v1/content`` shows the key's served version,
so a new served version (votes, a regeneration) is a new ETag. A request whose ``If-None-Match`` matches is answered
304 with no body, and with the headers the 200 would have had.

Who may keep an answer, and for how long (docs/ARCHITECTURE.md, "HTTP caching"):

- personal content is ``private`` (the learner's own cache, never a shared one) with ``Vary: Authorization``, so a
  browser shared by two learners does not hand one of them the other's copy;
- shared content is ``public``: the same bytes for every learner;
- a version by id is ``immutable`` and kept up to a day; the served version of a request only 60 s, because which
  version is served changes with votes. Neither outlives the content: max-age is cut to the seconds it has left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import Response

from pregen.http.api import json_response

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

    from pregen.domain.records import StoredContent

SERVED_MAX_AGE = 60  # the served version of a request may change with any vote
VERSION_MAX_AGE = 86_400  # a version never changes; a day bounds how long a copy outlives a removed version

# An If-None-Match member (RFC 9110 8.8.3): an entity tag, weak or strong, then the end or a comma.
_ENTITY_TAG = re.compile(r'[ \t]*(?:W/)?"([\x21\x23-\x7e\x80-\xff]*)"[ \t]*(?:,|\Z)')
_EMPTY_MEMBER = re.compile(r"[ \t]*,")  # a list may have empty members (RFC 9110 5.6.1)


@dataclass(frozen=True)
class Cacheable:
    """How an answer showing one version may be cached."""

    content_id: str | None  # the version shown; None only for content stored before versions existed
    personal: bool
    max_age: int
    immutable: bool = False

    @property
    def etag(self) -> str | None:
        return etag_of(self.content_id) if self.content_id else None

    def headers(self) -> dict[str, str]:
        directives = ["private" if self.personal else "public", f"max-age={self.max_age}"]
        if self.immutable:
            directives.append("immutable")
        headers = {"Cache-Control": ", ".join(directives)}
        if self.etag:
            headers["ETag"] = self.etag
        if self.personal:
            headers["Vary"] = "Authorization"
        return headers


def etag_of(content_id: str) -> str:
    """A version's strong ETag: its content id (letters, digits, ``-``, ``_`` and ``.``: all allowed), quoted."""
    return f'"{content_id}"'


def _max_age(limit: int, expires_at: float, now: float) -> int:
    return max(0, min(limit, int(expires_at - now)))


def version_cacheable(content_id: str, owner: str | None, expires_at: float, now: float) -> Cacheable:
    """``GET /v1/content/{content_id}``: the version itself, which never changes."""
    return Cacheable(content_id, owner is not None, _max_age(VERSION_MAX_AGE, expires_at, now), immutable=True)


def served_cacheable(content: StoredContent, now: float) -> Cacheable:
    """A hit of ``GET /v1/content``: the key's served version, which the next vote may change."""
    version_id = content.meta.get("version_id")
    return Cacheable(
        str(version_id) if version_id else None,
        content.owner is not None,
        _max_age(SERVED_MAX_AGE, content.expires_at, now),
    )


def _opaque_tags(field: str) -> list[str] | None:
    """The opaque tags a list of entity tags names, ``W/`` or not; None when the field is not such a list."""
    tags: list[str] = []
    at = 0
    while at < len(field):
        if empty := _EMPTY_MEMBER.match(field, at):
            at = empty.end()
            continue
        member = _ENTITY_TAG.match(field, at)
        if member is None:
            return None if field[at:].strip(" \t") else tags
        tags.append(member.group(1))
        at = member.end()
    return tags


def held(if_none_match: str | None, etag: str | None) -> bool:
    """Whether ``If-None-Match`` names the current representation, so a GET is answered 304 (RFC 9110 13.1.2).

    ``*`` matches any current representation. Otherwise it is a list of entity tags compared weakly: ``W/"x"``
    matches ``"x"``. A field that is not valid is ignored (the full answer is sent), never taken as a match."""
    if if_none_match is None:
        return False
    if if_none_match.strip(" \t") == "*":
        return True
    if etag is None:
        return False
    tags = _opaque_tags(if_none_match)
    return tags is not None and etag.strip('"') in tags


def if_none_match(app: APIGatewayHttpResolver) -> str | None:
    """The request's If-None-Match (several fields arrive joined by commas, which is the same list)."""
    value: str | None = app.current_event.headers.get("if-none-match")
    return value


def not_modified(cacheable: Cacheable, headers: dict[str, str] | None = None) -> Response[str]:
    """304: no body, and the caching headers the 200 would have had (RFC 9110 15.4.5)."""
    return Response(status_code=HTTPStatus.NOT_MODIFIED.value, headers={**(headers or {}), **cacheable.headers()})


def cached_json(
    body: Any, cacheable: Cacheable, if_none_match: str | None, headers: dict[str, str] | None = None
) -> Response[str]:
    """The 200 with its caching headers, or 304 when the request already holds this representation."""
    if held(if_none_match, cacheable.etag):
        return not_modified(cacheable, headers)
    return json_response(HTTPStatus.OK, body, {**(headers or {}), **cacheable.headers()})


# What the OpenAPI document says of these answers.
CACHE_HEADERS: dict[str, OpenAPIResponseHeader] = {
    "ETag": {"description": "The version's content id, quoted: a strong entity tag", "schema": {"type": "string"}},
    "Cache-Control": {
        "description": "private (personal content) or public (shared), max-age in seconds; immutable for a version",
        "schema": {"type": "string"},
    },
    "Vary": {"description": "Authorization, on personal content", "schema": {"type": "string"}},
}

NOT_MODIFIED: OpenAPIResponse = {
    "description": "If-None-Match names this version (or is *): the copy the client holds is current. No body.",
    "headers": CACHE_HEADERS,
    "content": {},  # no body (pregen_tools.openapi drops the empty map)
}
