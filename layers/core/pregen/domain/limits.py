"""Generation allowances per role: how many generation-triggering requests a learner may make per window.

Kept as data (the ``RATE_LIMITS`` environment variable, JSON, from the template's ``RateLimits`` parameter), so an
operator changes them without a code change. Windows are fixed (aligned to the epoch): simple, one small counter item
per learner and window, and at worst twice the allowance across a window boundary — acceptable for a cost guard.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from pregen.domain.models import Role

WINDOW_SECONDS = {"minute": 60, "hour": 3_600, "day": 86_400}


class RoleLimits(BaseModel):
    """Allowances of one role; a window left out is not limited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minute: int | None = Field(default=None, ge=1)
    hour: int | None = Field(default=None, ge=1)
    day: int | None = Field(default=None, ge=1)

    def windows(self) -> list[tuple[str, int, int]]:
        """(window name, seconds, allowed) from the shortest window to the longest."""
        return [
            (name, seconds, allowed)
            for name, seconds in WINDOW_SECONDS.items()
            if (allowed := getattr(self, name)) is not None
        ]


# Defaults (documented in README "Limits, tiers and costs"): a student browsing new material misses at most a few
# times a minute; a teacher pre-generates a class's material; an admin warms whole catalogues.
DEFAULT_RATE_LIMITS: dict[str, dict[str, int]] = {
    Role.STUDENT.value: {"minute": 10, "day": 200},
    Role.TEACHER.value: {"minute": 120, "day": 3_000},
    Role.ADMIN.value: {"minute": 1_000, "day": 50_000},
}


class RateLimits(RootModel[dict[Role, RoleLimits]]):
    """Every role has an entry; a role missing from the configuration keeps its default."""

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, value: Any) -> Any:
        merged: dict[str, Any] = {role: dict(limits) for role, limits in DEFAULT_RATE_LIMITS.items()}
        for role, limits in dict(value or {}).items():
            merged[str(role)] = limits
        return merged

    def for_role(self, role: Role) -> RoleLimits:
        return self.root[role]


def default_rate_limits() -> RateLimits:
    return RateLimits.model_validate({})
