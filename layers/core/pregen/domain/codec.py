"""Compression of content bodies: JSON → zlib, so large exams stay far below DynamoDB's 400 KB item limit."""

from __future__ import annotations

import json
import zlib
from typing import Any

# DynamoDB's hard limit is 400 KB per item; we refuse well before it so attribute overhead never tips us over.
MAX_BODY_BYTES = 350_000


def compress(body: dict[str, Any]) -> bytes:
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode()
    packed = zlib.compress(raw, 6)
    if len(packed) > MAX_BODY_BYTES:
        raise ValueError(f"compressed body is {len(packed)} bytes, over the {MAX_BODY_BYTES} byte limit")
    return packed


def decompress(blob: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(zlib.decompress(blob))
    return body
