"""Sharing a course: with a class (a group the identity provider puts its members in) or by a revocable link.

A class is a value ``class:<id>`` in the caller's role claim (Cognito's ``cognito:groups`` by default: a teacher's
pool puts each class's members in a group of that name); a link is a token ``<link id>.<secret>`` whose secret is
kept only as its SHA-256. Either share is an item of the course's partition (``share#class#<id>``,
``share#link#<link id>``), so it goes when the course goes (expiry, or the owner's erasure) and is revoked by
deleting it. A member is never recorded: membership is the identity provider's, checked on every read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

CLASS_PREFIX = "class:"
CLASS_ID = r"^[A-Za-z0-9_-]{1,64}$"
LINK_ID = r"^[0-9a-f]{16}$"
SHARE_ID = r"^(class-[A-Za-z0-9_-]{1,64}|link-[0-9a-f]{16})$"
MAX_CLASSES_CHECKED = 20  # a caller's classes looked up on a read (one BatchGetItem); more are not considered
_CLASS = re.compile(CLASS_ID)
LINK_TOKEN = r"^[0-9a-f]{16}\.[A-Za-z0-9_-]{20,64}$"
_TOKEN = re.compile(r"^([0-9a-f]{16})\.([A-Za-z0-9_-]{20,64})$")


class ShareKind(StrEnum):
    CLASS = "class"
    LINK = "link"


class ShareRequest(BaseModel):
    """What the owner shares: ``{"class_id": "7b"}`` or ``{"link": true}``, exactly one."""

    # The rule below is said in the fields' descriptions, not as a schema: a oneOf of partial schemas is what
    # openapi-python-client cannot parse (it then leaves the route out of the client).
    model_config = ConfigDict(extra="forbid", frozen=True)

    class_id: str | None = Field(
        default=None,
        pattern=CLASS_ID,
        description="the class (group class:<id>); exactly one of class_id and link: true",
    )
    link: bool | None = Field(
        default=None,
        strict=True,
        description="true: a new revocable link token; exactly one of class_id and link: true",
    )

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.class_id is None) == (self.link is not True):
            raise ValueError("give exactly one of class_id or link: true")
        return self


@dataclass(frozen=True)
class Share:
    share_id: str  # class-<id> or link-<link id>: the path of its DELETE
    kind: ShareKind
    created_at: float
    class_id: str | None = None
    secret_hash: str | None = None  # a link's: SHA-256 of its secret, hex


def share_id(kind: ShareKind, name: str) -> str:
    return f"{kind.value}-{name}"


def classes_in(values: list[str]) -> list[str]:
    """The class ids among a caller's group values (``class:<id>``), at most ``MAX_CLASSES_CHECKED``."""
    found = [v[len(CLASS_PREFIX) :] for v in values if v.startswith(CLASS_PREFIX)]
    return [c for c in dict.fromkeys(found) if _CLASS.match(c)][:MAX_CLASSES_CHECKED]


def new_link() -> tuple[str, str, str]:
    """A new link: its id, its token (given to the owner once) and the hash kept of its secret."""
    link_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return link_id, f"{link_id}.{secret}", _digest(secret)


def link_id_of(token: str) -> str | None:
    """The link id a token names, or None when it is not a token's shape."""
    found = _TOKEN.match(token)
    return found.group(1) if found else None


def link_opens(token: str, share: Share) -> bool:
    found = _TOKEN.match(token)
    if found is None or share.secret_hash is None:
        return False
    return hmac.compare_digest(_digest(found.group(2)), share.secret_hash)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def share_body(share: Share) -> dict[str, Any]:
    body: dict[str, Any] = {"share_id": share.share_id, "kind": share.kind.value, "created_at": int(share.created_at)}
    if share.class_id is not None:
        body["class_id"] = share.class_id
    return body
