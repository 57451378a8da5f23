"""The library's rules as pure functions: vote deltas, approval, automatic regeneration and the ranking."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pregen.domain.errors import InvalidRequest
from pregen.domain.library import LibraryRules, Version, VersionStatus, best_of, key_of, new_version_id, vote_delta

KEY = "v1-lesson-" + "a" * 40


def version(
    n: int, *, up: int = 0, down: int = 0, status: VersionStatus = VersionStatus.ACTIVE, **kw: object
) -> Version:
    return Version(
        version_id=f"{KEY}.{n:012x}",
        key=KEY,
        kind="lesson",
        status=status,
        created_at=1000.0 + n,
        expires_at=9e9,
        request={},
        up=up,
        down=down,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("old", "new", "delta"),
    [
        (None, "up", (1, 0)),
        (None, "down", (0, 1)),
        ("up", "down", (-1, 1)),
        ("down", "up", (1, -1)),
        ("up", "up", (0, 0)),
    ],
)
def test_a_vote_moves_the_counts_by_exactly_the_difference(old: str | None, new: str, delta: tuple[int, int]) -> None:
    assert vote_delta(old, new) == delta  # type: ignore[arg-type]


def test_approval_needs_both_net_votes_and_ratio() -> None:
    rules = LibraryRules()
    assert rules.approves(version(1, up=10))
    assert not rules.approves(version(1, up=9))  # net 9
    assert not rules.approves(version(1, up=20, down=10))  # net 10, 67 %
    assert rules.approves(version(1, up=12, down=2))  # net 10, 86 %
    assert not rules.approves(version(1, up=12, status=VersionStatus.APPROVED))  # already
    assert LibraryRules(approval_min_net_votes=2, approval_min_ratio=1.0).approves(version(1, up=2))


def test_regeneration_is_wanted_once_when_net_votes_fall_below_the_threshold() -> None:
    rules = LibraryRules(regenerate_below_net_votes=-3)
    assert not rules.wants_regeneration(version(1, down=3))  # -3 is not below -3
    assert rules.wants_regeneration(version(1, down=4))
    assert not rules.wants_regeneration(version(1, down=4, regen_requested_at=5.0))
    assert not rules.wants_regeneration(version(1, down=4, status=VersionStatus.SUPERSEDED))


def test_the_best_version_is_approved_first_then_net_votes_then_newest() -> None:
    old, new = version(1), version(2)
    assert best_of([old, new], 0) == new  # newest
    assert best_of([replace(old, up=1), new], 0).version_id == old.version_id  # net votes
    approved = replace(new, status=VersionStatus.APPROVED)
    assert best_of([replace(old, up=50), approved], 0) == approved  # approval beats votes
    superseded = replace(old, up=50, status=VersionStatus.SUPERSEDED)
    assert best_of([superseded, replace(new, down=5)], 0).version_id == new.version_id  # live beats superseded
    assert best_of([superseded], 0) == superseded  # ... but is served when nothing else is left
    assert best_of([], 0) is None


def test_personal_versions_are_handed_out_least_used_first() -> None:
    # The served one counts the key's hits since it became the served one
    served = version(1, owner="alice", is_best=True, hits_at_best=2)
    fresh = version(0, owner="alice", usage=3)
    assert served.usage_count(10) == 8
    assert best_of([served, fresh], 10) == fresh
    assert best_of([served, fresh], 4) == served  # 2 uses against 3


def test_a_content_id_names_its_key() -> None:
    content_id = new_version_id(KEY)
    assert key_of(content_id) == KEY
    for bad in ("", KEY, f"{KEY}.xyz", f"{KEY}.{'0' * 12}/x", "v1-lesson-short.000000000000"):
        with pytest.raises(InvalidRequest):
            key_of(bad)
