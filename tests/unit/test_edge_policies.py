"""Two rules that used to live in handlers: the priority a caller may ask for, and whose grade counts."""

from __future__ import annotations

import pytest

from pregen.domain.learner import grade_for
from pregen.domain.models import Priority, Role


@pytest.mark.parametrize(
    ("role", "asked", "allowed"),
    [
        (Role.STUDENT, Priority.PREDICTIVE, Priority.DEFAULT),  # a student cannot jump the interactive queue
        (Role.STUDENT, Priority.WARMING, Priority.WARMING),  # but may ask for less
        (Role.TEACHER, Priority.PREDICTIVE, Priority.PREDICTIVE),
        (Role.ADMIN, 100, 100),
    ],
)
def test_students_are_capped_at_the_default_priority(role: Role, asked: int, allowed: int) -> None:
    assert Priority.allowed(role, asked) == allowed


def test_the_tokens_grade_wins_over_the_requests() -> None:
    assert grade_for({"grade": "7"}, "9") == "7"
    assert grade_for({"custom:grade": "8"}, "9") == "8"


def test_the_requests_grade_counts_only_for_a_token_without_one() -> None:
    assert grade_for({"sub": "ann"}, "9") == "9"
    assert grade_for({"grade": ""}, None) is None
