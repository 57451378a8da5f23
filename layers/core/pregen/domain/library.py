"""The shared lesson library's domain: versions of a content key, their votes, and which one is served.

A ``content_id`` names one version: ``<cache key>.<12 hex>``, so the key (the partition) is read off the id
without an index. Ranking: a superseded version only when nothing else is left; then a *pending* regenerated
shared version only when nothing else is left (see ``is_pending``); then approved first, then the highest net votes
(personal scope: the least used, so a learner gets fresh material), then the newest.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pregen.domain.errors import InvalidRequest

CONTENT_ID = r"^[a-z0-9]+-[a-z_]+-[0-9a-f]{40}\.[0-9a-f]{12}$"  # a version's id, as a JSON Schema pattern
_CONTENT_ID = re.compile(r"^(?P<key>[a-z0-9]+-[a-z_]+-[0-9a-f]{40})\.(?P<suffix>[0-9a-f]{12})$")
VoteValue = Literal["up", "down"]
# The closed set of reasons a learner may give with a vote. Only their counts ever reach the model (a learner's
# free-text comment never does): a learner cannot write into the prompt of shared content.
VoteReason = Literal["inaccurate", "unclear", "too_hard", "too_easy", "off_topic"]
VOTE_REASONS: tuple[VoteReason, ...] = ("inaccurate", "unclear", "too_hard", "too_easy", "off_topic")


class VersionStatus(StrEnum):
    ACTIVE = "active"
    APPROVED = "approved"
    SUPERSEDED = "superseded"  # replaced by a regenerated version that passed validation


def new_version_id(key: str) -> str:
    return f"{key}.{uuid.uuid4().hex[:12]}"


def key_of(content_id: str) -> str:
    """The cache key a content id belongs to; a malformed id is a 400."""
    match = _CONTENT_ID.match(content_id)
    if match is None:
        raise InvalidRequest(f"not a content id: {content_id[:120]!r}")
    return match.group("key")


@dataclass(frozen=True)
class LibraryRules:
    """Auto-approval and auto-regeneration thresholds (settings: APPROVAL_*, REGENERATE_BELOW_NET_VOTES)."""

    approval_min_net_votes: int = 10
    approval_min_ratio: float = 0.8
    regenerate_below_net_votes: int = -3

    def approves(self, version: Version) -> bool:
        return (
            version.status is VersionStatus.ACTIVE
            and version.net >= self.approval_min_net_votes
            and version.approval >= self.approval_min_ratio
        )

    def wants_regeneration(self, version: Version) -> bool:
        return (
            version.status is not VersionStatus.SUPERSEDED
            and version.net < self.regenerate_below_net_votes
            and version.regen_requested_at is None
        )


@dataclass(frozen=True)
class Version:
    """One version's small counter item: votes, status, usage and the figures of its generation."""

    version_id: str
    key: str
    kind: str
    status: VersionStatus
    created_at: float
    expires_at: float
    request: dict[str, Any]
    owner: str | None = None
    up: int = 0
    down: int = 0
    is_best: bool = False
    usage: int = 0  # uses counted up to when it last stopped being the served version
    hits_at_best: int = 0  # the key's hit count when it became the served version
    regenerate_of: str | None = None
    regen_requested_at: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)  # validation_score, estimated_minutes, model, tokens ...

    @property
    def net(self) -> int:
        return self.up - self.down

    @property
    def approval(self) -> float:
        total = self.up + self.down
        return self.up / total if total else 0.0

    def usage_count(self, key_hits: int) -> int:
        """Uses of this version: the hits served while it was the best one."""
        return self.usage + (max(0, key_hits - self.hits_at_best) if self.is_best else 0)


def is_pending(version: Version, versions: list[Version]) -> bool:
    """A regenerated *shared* version that has not earned its place yet: it is served to everyone only once it is
    approved or it out-votes the version it replaces (more up than down votes, and a higher net than the replaced
    one's), or once the replaced version is gone. Until then the replaced version stays served, so whoever asked
    for the regeneration cannot put new text in front of every learner on their own. Personal versions never
    wait (their owner asked for them)."""
    if version.owner is not None or version.regenerate_of is None or version.status is not VersionStatus.ACTIVE:
        return False
    replaced = next(
        (v for v in versions if v.version_id == version.regenerate_of and v.status is not VersionStatus.SUPERSEDED),
        None,
    )
    if replaced is None:
        return False
    return not (version.net > 0 and version.net > replaced.net)


def rank(version: Version, key_hits: int, *, pending: bool = False) -> tuple[Any, ...]:
    """Higher is better (see the module docstring); ``pending``: ``is_pending`` of the version among its key's."""
    live = version.status is not VersionStatus.SUPERSEDED
    approved = version.status is VersionStatus.APPROVED
    if version.owner is not None:  # personal scope: hand out the least used first
        return (live, approved, -version.usage_count(key_hits), version.created_at, version.version_id)
    return (live, not pending, approved, version.net, version.created_at, version.version_id)


def ranked(versions: list[Version], key_hits: int) -> list[Version]:
    """The key's versions, best first."""
    return sorted(versions, key=lambda v: rank(v, key_hits, pending=is_pending(v, versions)), reverse=True)


def best_of(versions: list[Version], key_hits: int) -> Version | None:
    return next(iter(ranked(versions, key_hits)), None)


def vote_delta(old: VoteValue | None, new: VoteValue) -> tuple[int, int]:
    """How (up, down) move when a learner's vote goes from ``old`` to ``new``: by exactly the difference."""
    up = (new == "up") - (old == "up")
    down = (new == "down") - (old == "down")
    return up, down
