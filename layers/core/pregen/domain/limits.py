"""Spend allowances per role: how many US dollars of model work (estimated, ``pregen.domain.spend``) a caller may
cause per window.

Kept as data (the ``SPEND_ALLOWANCES`` environment variable, JSON of dollars, from the template's
``SpendAllowances`` parameter), so an operator changes them without a code change. Windows are fixed (aligned to the
epoch): simple, one small counter item per caller and window, and at worst twice the allowance across a window
boundary — acceptable for a cost guard. Counters hold microdollars (integers add exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from pregen.domain.models import Role
from pregen.domain.spend import MICRO

WINDOW_SECONDS = {"minute": 60, "hour": 3_600, "day": 86_400}


class RoleLimits(BaseModel):
    """Allowances of one role in US dollars; a window left out is not limited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minute: float | None = Field(default=None, gt=0)
    hour: float | None = Field(default=None, gt=0)
    day: float | None = Field(default=None, gt=0)

    def windows(self) -> list[tuple[str, int, int]]:
        """(window name, seconds, allowed microdollars) from the shortest window to the longest."""
        return [
            (name, seconds, round(allowed * MICRO))
            for name, seconds in WINDOW_SECONDS.items()
            if (allowed := getattr(self, name)) is not None
        ]


# Defaults (documented in docs/operations.md "Limits, tiers and costs"). A shared lesson on the small tier costs
# about a cent and a practice exam on the large tier about half a dollar: a student may miss dozens of lessons and
# claim a few exams an hour; a teacher builds several whole courses a day; an admin warms catalogues. Each role's
# shortest window holds its largest single request (a 12 x 8 course for a teacher, an exam inventory for a student), so
# no request a role may make is refused as too large for every window.
DEFAULT_RATE_LIMITS: dict[str, dict[str, float]] = {
    Role.STUDENT.value: {"hour": 2.0, "day": 5.0},
    Role.TEACHER.value: {"hour": 20.0, "day": 60.0},
    Role.ADMIN.value: {"hour": 500.0, "day": 2_000.0},
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


@dataclass(frozen=True)
class Consumed:
    """A charge against a caller's windows: the first window that had no room (nothing was counted), or None; and
    each window's count (microdollars) after the charge, or as it stood when refused."""

    refused: str | None
    used: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Charge:
    """A charge made inside a miss's claim (``KeyClaims.claim``), so that claim, job and charge are one write:
    ``cost`` counted against every window ``(name, seconds, allowed)`` of ``subject``, or (no room) nothing written."""

    subject: str
    windows: list[tuple[str, int, int]]
    cost: int
