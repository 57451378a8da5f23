"""The warming configuration as data: the default's size, subject resolution, and the curriculum order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pregen.domain.errors import InvalidRequest
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, Kind
from pregen.domain.warming import default_warming_config, parse_warming_config
from pregen.services.warming import resolve_profile


def test_the_default_covers_grade_10_in_six_subjects_with_90_items() -> None:
    config = default_warming_config()
    grade = config.grades["10"]
    assert set(grade.subjects) == {"math", "ela", "science", "social_studies", "algebra_1", "pre_calculus"}
    assert all(len(s.skills) == 5 and len(s.question_types) == 3 for s in grade.subjects.values())
    requests = config.requests_for("10")
    assert len(requests) == 90
    assert {r.kind for r in requests} == {Kind.QUESTION_SET}
    assert len({cache_key(r, Caller(sub="x")) for r in requests}) == 90  # all distinct keys


def test_subjects_resolve_by_id_or_name_and_unknown_ones_are_refused() -> None:
    config = default_warming_config()
    assert config.subject_ids("10", ["algebra_1", "Pre-Calculus", "ALGEBRA 1"]) == ["algebra_1", "pre_calculus"]
    with pytest.raises(InvalidRequest, match="astrology"):
        config.subject_ids("10", ["astrology"])
    with pytest.raises(InvalidRequest, match="configured grades: 10"):
        config.requests_for("3")


def test_the_next_skill_follows_the_curriculum_order() -> None:
    config = default_warming_config()
    skills = config.grades["10"].subjects["algebra_1"].skills
    assert config.next_skill("10", "Algebra 1", skills[0]) == skills[1]
    assert config.next_skill("10", "algebra_1", skills[-1]) is None
    assert config.next_skill(None, "Algebra 1", skills[0]) is None
    assert config.next_skill("10", "Algebra 1", "not a skill") is None


@pytest.mark.parametrize(
    "data",
    [
        {"grades": {}},
        {
            "grades": {
                "10": {"subjects": {"Math Class": {"name": "Math", "skills": ["a"], "question_types": ["numeric"]}}}
            }
        },
        {
            "grades": {
                "10": {"subjects": {"math": {"name": "Math", "skills": ["a", "A"], "question_types": ["numeric"]}}}
            }
        },
        {"grades": {"10": {"subjects": {"math": {"name": "Math", "skills": ["a"], "question_types": ["essay"]}}}}},
        {
            "grades": {
                "10": {
                    "subjects": {"math": {"name": "Math", "skills": ["a"], "question_types": ["numeric"], "count": 0}}
                }
            }
        },
    ],
)
def test_invalid_configurations_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_warming_config(data)


def test_the_profile_comes_from_the_claims_when_they_carry_it() -> None:
    profile = resolve_profile(("10", ["math", "ela"]), (None, ["math"]))
    assert (profile.grade, profile.subjects, profile.source) == ("10", ["math"], "claims")
    assert resolve_profile(("10", None), (None, None)).subjects is None
    assert resolve_profile((None, None), ("10", ["ela"])).source == "body"


@pytest.mark.parametrize(
    ("claims", "body"),
    [
        (("10", None), ("11", None)),  # contradicts the token's grade
        (("10", ["math"]), (None, ["ela"])),  # a subject the token does not list
        ((None, None), (None, ["math"])),  # no grade anywhere
    ],
)
def test_a_profile_that_contradicts_or_lacks_the_grade_is_refused(
    claims: tuple[str | None, list[str] | None], body: tuple[str | None, list[str] | None]
) -> None:
    with pytest.raises(InvalidRequest):
        resolve_profile(claims, body)
