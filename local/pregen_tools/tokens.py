"""Pregen's dev tokens: the emulator's dev issuer (``aws_emulator.devjwt``) with the claims Pregen's authorizer
context carries: a learner's or an operator's role as Cognito states it, a group in ``cognito:groups`` (a list;
the emulator's authorizer hands it over as ``"[admin]"``, as HTTP API does)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_emulator import devjwt

if TYPE_CHECKING:
    from pathlib import Path

ROLES = ("student", "teacher", "admin")


def mint(
    sub: str,
    role: str = "student",
    *,
    ttl_seconds: int = 3600,
    key_file: Path = devjwt.KEY_FILE,
    extra: dict[str, Any] | None = None,
) -> str:
    """A dev token for ``sub`` in ``role``; ``extra`` claims are added (and may replace the standard ones)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return devjwt.mint(
        sub, claims={"cognito:groups": [role], **(extra or {})}, ttl_seconds=ttl_seconds, key_file=key_file
    )
