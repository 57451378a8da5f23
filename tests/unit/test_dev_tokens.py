"""Dev tokens with a learner's grade and subjects (issue 31, item 8): what the local authorizer hands the functions
reads back as the profile that warming at login uses; and the banner says where data persists."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from aws_emulator import devjwt
from pregen.domain.learner import profile_from_claims
from pregen_tools import cli, tokens
from pregen_tools.local_stack import persistence

if TYPE_CHECKING:
    from pathlib import Path


def _profile(token: str, key_file: Path) -> tuple[str | None, list[str] | None]:
    claims = devjwt.as_authorizer_claims(devjwt.verify(f"Bearer {token}", key_file=key_file))
    return profile_from_claims(claims)


def test_a_dev_token_carries_grade_and_subjects_to_the_functions(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    token = tokens.mint("alice", "student", grade="5", subjects=["algebra_1", "geometry"], key_file=key)
    assert _profile(token, key) == ("5", ["algebra_1", "geometry"])
    # and without them, as before: the profile comes from the request
    assert _profile(tokens.mint("bob", "teacher", key_file=key), key) == (None, None)


@pytest.mark.parametrize(
    ("grade", "subjects"), [("5 th", None), (" ", None), (None, ["algebra 1"]), (None, ["math", ""])]
)
def test_a_grade_or_subject_the_authorizer_would_split_is_refused(
    grade: str | None, subjects: list[str] | None
) -> None:
    with pytest.raises(ValueError, match=r"grade must be one word|subjects are ids without spaces"):
        tokens.profile_claims(grade, subjects)


def test_the_token_command_takes_grade_and_subjects(capsys: pytest.CaptureFixture[str]) -> None:
    key = devjwt.KEY_FILE  # the command signs with the local stack's dev key
    args = cli.build_parser().parse_args(["token", "--sub", "carol", "--grade", "7", "--subject", "biology"])
    assert cli.run(args) == 0
    assert _profile(capsys.readouterr().out.strip(), key) == ("7", ["biology"])
    args = cli.build_parser().parse_args(["token", "--sub", "carol", "--subject", "life science"])
    assert cli.run(args) == 2
    assert "subjects are ids without spaces" in capsys.readouterr().err


def test_the_banner_says_where_data_persists_and_how_to_start_fresh() -> None:
    kept = persistence({"data_dir": "/repo/.local/dynamodb-data", "dynamodb": "DynamoDB Local"})
    assert "/repo/.local/dynamodb-data" in kept
    assert "make run FRESH=1" in kept
    assert "in memory" in persistence({"data_dir": None, "dynamodb": "moto"})
