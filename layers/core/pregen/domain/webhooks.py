"""The webhook's signature: how an app knows a POST came from its Pregen stack and was not replayed.

Each POST carries ``Pregen-Signature: t=<epoch seconds>,v1=<hex>`` where ``<hex>`` is HMAC-SHA256, keyed with the
stack's webhook secret, of ``"<t>." + body`` (the raw body bytes as sent). The receiver recomputes it over the body
it got, compares in constant time, and refuses a ``t`` older than its tolerance (five minutes here) so a captured
request cannot be replayed later. The scheme is the one Stripe documents for its webhooks, so apps may already have
the code; ``verify`` is the reference.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "Pregen-Signature"
TOLERANCE_SECONDS = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and is no older (nor newer) than ``tolerance`` seconds."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(parts.get("v1", ""), _mac(secret, timestamp, body))
