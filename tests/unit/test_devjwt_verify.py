"""The local JWT authorizer checks a token's signature once per key, and its expiry on every request: remembering
a good token must not let an expired, foreign or re-keyed one through."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from aws_emulator import devjwt

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.wall_clock  # tokens are minted and checked against the machine's clock, as the front does


def test_a_remembered_token_is_refused_once_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a token valid for a minute, verified once (its signature now remembered)
    key = tmp_path / "key.pem"
    token = devjwt.mint("alice", ttl_seconds=60, key_file=key)
    assert devjwt.verify(f"Bearer {token}", key_file=key)["sub"] == "alice"
    # When the clock passes its expiry
    later = time.time() + 61
    monkeypatch.setattr(devjwt, "time", SimpleNamespace(time=lambda: later))
    # Then it is refused, as the authorizer refuses an expired token
    with pytest.raises(devjwt.TokenRejected, match="expired"):
        devjwt.verify(f"Bearer {token}", key_file=key)


def test_a_token_of_another_key_is_refused_every_time_and_a_new_key_checks_afresh(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.pem", tmp_path / "theirs.pem"
    foreign = devjwt.mint("mallory", key_file=theirs)
    for _ in range(2):  # a refusal is not remembered as anything
        with pytest.raises(devjwt.TokenRejected):
            devjwt.verify(f"Bearer {foreign}", key_file=ours)
    # Given a token of our key, verified once
    token = devjwt.mint("alice", key_file=ours)
    devjwt.verify(f"Bearer {token}", key_file=ours)
    # When our key file is replaced by another key
    ours.write_bytes(theirs.read_bytes())
    # Then the token signed with the old key is refused, and the new key's tokens pass
    with pytest.raises(devjwt.TokenRejected):
        devjwt.verify(f"Bearer {token}", key_file=ours)
    assert devjwt.verify(f"Bearer {foreign}", key_file=ours)["sub"] == "mallory"


def test_each_caller_gets_its_own_claims(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    token = devjwt.mint("alice", claims={"role": "student"}, key_file=key)
    devjwt.verify(f"Bearer {token}", key_file=key)["role"] = "admin"
    assert devjwt.verify(f"Bearer {token}", key_file=key)["role"] == "student"
