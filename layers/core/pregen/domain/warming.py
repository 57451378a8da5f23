"""The warming configuration (data in ``pregen/data/warming.json``) and the content requests it stands for.

Per grade and subject: the skills, in curriculum order, and the question types to pre-generate, with the number of
questions per set. Each skill x question type is one ``question_set`` request, shared by every learner.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pregen.domain.errors import InvalidRequest
from pregen.domain.models import ContentRequest, Kind, QuestionType
from pregen.domain.text import canonical_name

_ID = r"^[a-z0-9_]{1,40}$"


class SubjectWarming(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, description="the subject text of the content requests")
    skills: list[str] = Field(min_length=1, max_length=50, description="in curriculum order")
    question_types: list[QuestionType] = Field(min_length=1, max_length=5)
    count: int = Field(default=5, ge=1, le=50, description="questions per set")

    @field_validator("skills")
    @classmethod
    def _distinct(cls, skills: list[str]) -> list[str]:
        if len({canonical_name(s) for s in skills}) != len(skills):
            raise ValueError("skills must be distinct")
        return skills


class GradeWarming(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    subjects: dict[str, SubjectWarming] = Field(min_length=1)

    @field_validator("subjects")
    @classmethod
    def _ids(cls, subjects: dict[str, SubjectWarming]) -> dict[str, SubjectWarming]:
        for subject_id in subjects:
            if not re.match(_ID, subject_id):
                raise ValueError(f"subject id {subject_id!r} must match {_ID}")
        return subjects


class WarmingConfig(BaseModel):
    """What to warm, per grade (``"10"``) and subject id (``"algebra_1"``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    grades: dict[str, GradeWarming] = Field(min_length=1)

    def grade(self, grade: str) -> GradeWarming:
        found = self.grades.get(grade.strip())
        if found is None:
            known = ", ".join(sorted(self.grades))
            raise InvalidRequest(f"no warming configuration for grade {grade!r}; configured grades: {known}")
        return found

    def subject_ids(self, grade: str, subjects: list[str] | None) -> list[str]:
        """Resolve subject ids or names (``algebra_1`` or ``Algebra 1``) for a grade; None means all of them."""
        configured = self.grade(grade).subjects
        if subjects is None:
            return list(configured)
        by_name = {canonical_name(name): sid for sid, s in configured.items() for name in (sid, s.name)}
        resolved: list[str] = []
        unknown: list[str] = []
        for subject in subjects:
            sid = by_name.get(canonical_name(subject))
            if sid is None:
                unknown.append(subject)
            elif sid not in resolved:
                resolved.append(sid)
        if unknown:
            raise InvalidRequest(
                f"grade {grade} has no warming for subject(s) {', '.join(map(repr, unknown))}; "
                f"configured: {', '.join(configured)}"
            )
        return resolved

    def requests_for(self, grade: str, subjects: list[str] | None = None) -> list[ContentRequest]:
        """Every item to warm for a grade and some of its subjects (all when ``subjects`` is None)."""
        configured = self.grade(grade).subjects
        requests = []
        for sid in self.subject_ids(grade, subjects):
            subject = configured[sid]
            for skill in subject.skills:
                for question_type in subject.question_types:
                    requests.append(
                        ContentRequest(
                            kind=Kind.QUESTION_SET,
                            subject=subject.name,
                            topic=skill,
                            grade=grade,
                            question_type=question_type,
                            count=subject.count,
                        )
                    )
        return requests

    def question_types(self, grade: str | None, subject: str) -> list[QuestionType] | None:
        """The question types warming prepares for a subject (id or name) of a grade; None if it has none."""
        if grade is None or grade not in self.grades:
            return None
        configured = self._subject(grade, subject)
        return None if configured is None else list(configured.question_types)

    def covers(self, grade: str | None, subject: str, skill: str) -> bool:
        """Whether the configuration names this skill of this subject (id or name) for this grade."""
        if grade is None or grade not in self.grades:
            return False
        configured = self._subject(grade, subject)
        return configured is not None and canonical_name(skill) in {canonical_name(s) for s in configured.skills}

    def next_skill(self, grade: str | None, subject: str, skill: str) -> str | None:
        """The skill after ``skill`` in the subject's curriculum order, if the configuration knows it."""
        if grade is None or grade not in self.grades:
            return None
        configured = self._subject(grade, subject)
        if configured is None:
            return None
        order = [canonical_name(s) for s in configured.skills]
        here = canonical_name(skill)
        if here in order and order.index(here) + 1 < len(order):
            return configured.skills[order.index(here) + 1]
        return None

    def _subject(self, grade: str, subject: str) -> SubjectWarming | None:
        """A configured grade's subject named by its id or its name, in any spelling canonical_name folds."""
        wanted = canonical_name(subject)
        for sid, configured in self.grades[grade].subjects.items():
            if wanted in {canonical_name(sid), canonical_name(configured.name)}:
                return configured
        return None


def parse_warming_config(data: dict[str, Any]) -> WarmingConfig:
    return WarmingConfig.model_validate(data)


@lru_cache(maxsize=1)
def default_warming_config() -> WarmingConfig:
    """The packaged configuration, read and validated once per container."""
    text = resources.files("pregen").joinpath("data/warming.json").read_text()
    return parse_warming_config(json.loads(text))
