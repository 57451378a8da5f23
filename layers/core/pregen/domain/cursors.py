"""Pagination cursors: opaque to the client, signed by the server, bound to the caller and to the listing.

A cursor is ``<payload>.<tag>``: the payload is the listing's position (JSON, base64url), the tag an HMAC-SHA256 of
the listing's name, the caller's subject and the payload, under a key only the functions hold. A cursor edited in
any way, from another caller or from another listing is refused before its position reaches a table, so a client
cannot steer a query by crafting a start key (another attribute type, another partition, another sort key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from pregen.domain.errors import InvalidRequest

_TAG_BYTES = 16  # 128 bits of HMAC-SHA256: forging one is out of reach; 22 characters on the wire
# What the server accepts, for the OpenAPI document: base64url payload, a dot, a 22-character base64url tag.
PATTERN = r"^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{22}$"
REFUSED = "the cursor is not valid: use the next_cursor of a previous page of this listing"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(key: bytes, listing: str, caller: str, payload: str) -> str:
    message = f"{listing}\n{caller}\n{payload}".encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:_TAG_BYTES])


def seal(position: Any, *, key: bytes, caller: str, listing: str) -> str:
    """The cursor for ``position`` (anything JSON can hold) in ``listing``, for ``caller`` only."""
    payload = _b64(json.dumps(position, separators=(",", ":"), sort_keys=True).encode())
    return f"{payload}.{_tag(key, listing, caller, payload)}"


def unseal(cursor: str, *, key: bytes, caller: str, listing: str) -> Any:
    """The position a cursor of ours stands for; anything else (edited, another caller's, another listing's,
    garbled) is a 400."""
    payload, dot, tag = cursor.partition(".")
    # bytes, not str: compare_digest refuses a str that is not ASCII, and a client may send one
    if not dot or not hmac.compare_digest(tag.encode(), _tag(key, listing, caller, payload).encode()):
        raise InvalidRequest(REFUSED)
    try:
        return json.loads(_unb64(payload))
    except (ValueError, binascii.Error) as exc:  # signed by us, so only a changed encoding could get here
        raise InvalidRequest(REFUSED) from exc
