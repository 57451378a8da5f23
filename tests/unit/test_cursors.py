"""Signed pagination cursors: bound to the caller and the listing, refused when edited, and their key read once
from the stack's secret (or CURSOR_KEY) with a clear failure when neither is set."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import boto3
import pytest
from moto import mock_aws

from pregen.config.base import SettingsError, forget
from pregen.config.functions import CursorKeySettings
from pregen.domain.cursors import PATTERN, seal, unseal
from pregen.domain.errors import InvalidRequest
from pregen.wiring.cursors import cursor_key

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY = b"k" * 32
POSITION = {"p": 2, "t": 0, "k": {"pk": {"S": "inv#alice#practice"}, "sk": {"S": "exam#1"}}}


def _sealed() -> str:
    return seal(POSITION, key=KEY, caller="alice", listing="me/content")


def test_a_cursor_round_trips_and_matches_the_documented_pattern() -> None:
    cursor = _sealed()
    assert re.fullmatch(PATTERN, cursor)
    assert unseal(cursor, key=KEY, caller="alice", listing="me/content") == POSITION


@pytest.mark.parametrize("at", range(0, 60, 7))
def test_one_edited_character_is_refused(at: int) -> None:
    cursor = _sealed()
    edited = cursor[:at] + ("B" if cursor[at] == "A" else "A") + cursor[at + 1 :]
    with pytest.raises(InvalidRequest):
        unseal(edited, key=KEY, caller="alice", listing="me/content")


@pytest.mark.parametrize(
    ("key", "caller", "listing"),
    [(KEY, "bob", "me/content"), (KEY, "alice", "courses"), (b"another key", "alice", "me/content")],
)
def test_another_callers_listings_or_keys_cursor_is_refused(key: bytes, caller: str, listing: str) -> None:
    with pytest.raises(InvalidRequest):
        unseal(_sealed(), key=key, caller=caller, listing=listing)


@pytest.mark.parametrize("cursor", ["0", "", ".", "abc", "abc.def", "é" * 30 + "." + "é" * 22, _sealed() + "="])
def test_what_is_not_a_cursor_of_ours_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        unseal(cursor, key=KEY, caller="alice", listing="me/content")


def test_the_documented_pattern_refuses_what_the_server_refuses() -> None:
    assert not re.fullmatch(PATTERN, "0")
    assert not re.fullmatch(PATTERN, "Zm9v")  # base64url of a position with no tag
    assert not re.fullmatch(PATTERN, _sealed()[:-1])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("CURSOR_KEY", "CURSOR_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    forget()
    cursor_key.cache_clear()  # type: ignore[attr-defined]
    yield monkeypatch
    forget()
    cursor_key.cache_clear()  # type: ignore[attr-defined]


def test_without_a_key_or_its_secret_the_function_fails_at_cold_start_saying_so() -> None:
    with pytest.raises(SettingsError, match="CURSOR_KEY_SECRET"):
        CursorKeySettings.from_env({"CURSOR_KEY": "", "CURSOR_KEY_SECRET": ""})


def test_the_key_is_the_stacks_secret(clean_env: pytest.MonkeyPatch) -> None:
    with mock_aws():
        # Given the secret the stack generates
        arn = boto3.client("secretsmanager").create_secret(Name="cursor-key", SecretString="s" * 64)["ARN"]
        clean_env.setenv("CURSOR_KEY_SECRET", arn)
        # Then the listings sign with its value
        assert cursor_key() == b"s" * 64


def test_an_unreadable_secret_fails_naming_it(clean_env: pytest.MonkeyPatch) -> None:
    with mock_aws():
        clean_env.setenv("CURSOR_KEY_SECRET", "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone")
        with pytest.raises(SettingsError, match="secret:gone"):
            cursor_key()


def test_locally_the_key_comes_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CURSOR_KEY", "local-key")
    clean_env.setenv("CURSOR_KEY_SECRET", "")
    assert cursor_key() == b"local-key"
