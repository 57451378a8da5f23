"""Pregen's dev tokens: the emulator's dev issuer (``aws_emulator.devjwt``) with the claims Pregen's authorizer
context carries: a learner's or an operator's role as Cognito states it, a group in ``cognito:groups`` (a list;
the emulator's authorizer hands it over as ``"[admin]"``, as HTTP API does), and optionally the learner's
``grade`` and ``subjects`` (``pregen.domain.learner.profile_from_claims``), so warming at login
(``POST /v1/warm`` without a body) can be tried locally."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_emulator import devjwt

if TYPE_CHECKING:
    from pathlib import Path

ROLES = ("student", "teacher", "admin")


def profile_claims(grade: str | None = None, subjects: list[str] | None = None) -> dict[str, Any]:
    """The ``grade`` and ``subjects`` claims, as a token carries them. HTTP API hands an array claim over as
    ``"[a b]"``, so a subject is an id without spaces (``algebra_1``, as in the warming configuration)."""
    claims: dict[str, Any] = {}
    if grade is not None:
        if not grade.strip() or any(c.isspace() for c in grade):
            raise ValueError(f"grade must be one word (e.g. 5 or K), not {grade!r}")
        claims["grade"] = grade
    if subjects:
        spaced = [s for s in subjects if not s.strip() or any(c.isspace() for c in s)]
        if spaced:
            raise ValueError(f"subjects are ids without spaces (e.g. algebra_1), not {', '.join(map(repr, spaced))}")
        claims["subjects"] = list(subjects)
    return claims


def mint(
    sub: str,
    role: str = "student",
    *,
    ttl_seconds: int = 3600,
    key_file: Path = devjwt.KEY_FILE,
    grade: str | None = None,
    subjects: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A dev token for ``sub`` in ``role``, with the learner's ``grade`` and ``subjects`` when given; ``extra``
    claims are added (and may replace the standard ones)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    claims = {"cognito:groups": [role], **profile_claims(grade, subjects), **(extra or {})}
    return devjwt.mint(sub, claims=claims, ttl_seconds=ttl_seconds, key_file=key_file)
