"""A learner's grade and subjects as the verified JWT claims carry them (``grade``/``custom:grade``,
``subjects``/``custom:subjects``). HTTP API hands every claim over as a string and arrays as ``"[a b]"``, so
subjects are ids without spaces (``algebra_1``), as in the warming configuration."""

from __future__ import annotations

from typing import Any


def _claim(claims: dict[str, Any], name: str) -> Any:
    value = claims.get(name)
    return value if value not in (None, "", "[]") else claims.get(f"custom:{name}")


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part for part in text.replace(",", " ").split() if part]


def profile_from_claims(claims: dict[str, Any]) -> tuple[str | None, list[str] | None]:
    """(grade, subjects) from the claims; None for what the token does not say."""
    grade = str(_claim(claims, "grade") or "").strip() or None
    subjects = _as_list(_claim(claims, "subjects")) or None
    return grade, subjects


def grade_for(claims: dict[str, Any], given: str | None) -> str | None:
    """The learner's grade: the token's wins; the one given in the request counts only for tokens without one."""
    claim_grade, _ = profile_from_claims(claims)
    return claim_grade or given
