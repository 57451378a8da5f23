"""Exam programs as data: blueprints loaded from ``pregen/data/programs/*.json``, split into sections, and the
checks an assembled exam must pass before anyone may claim it.

Adding a program is adding a JSON file: its exam types become claimable under ``/v1/exams/{exam_type}``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pregen.domain.errors import ContentInvalid, NotFound
from pregen.domain.models import QuestionType

if TYPE_CHECKING:
    from typing import Self

    from pregen.domain.schemas import Exam

_WEIGHT_SUM_SLACK = 1e-6


class _Strict(BaseModel):
    # defer_build: built when the catalogue is first loaded, not at import (cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Domain(_Strict):
    name: str = Field(min_length=1, max_length=120)
    weight: float = Field(gt=0, le=1)


class ExamTypeSpec(_Strict):
    style: Literal["diagnostic", "practice"] = Field(description="the exam schema's exam_type")
    questions: int = Field(ge=1, le=400)
    section_max_questions: int = Field(default=30, ge=1, le=50, description="largest section one job generates")
    instructions: str = Field(min_length=1)


def _mix_sums_to_one(mix: dict[str, float], what: str) -> None:
    if not mix or abs(sum(mix.values()) - 1.0) > _WEIGHT_SUM_SLACK or any(v < 0 for v in mix.values()):
        raise ValueError(f"{what} must be non-negative shares summing to 1")


class Program(_Strict):
    """A blueprint: weighted content domains, question type and difficulty mixes, and its exam types."""

    program: str = Field(pattern=r"^[a-z0-9_-]{1,40}$")
    title: str = Field(min_length=1)
    subject: str = Field(min_length=1, max_length=80)
    description: str = ""
    domain_tolerance: float = Field(default=0.02, ge=0, le=0.2, description="largest allowed |share - weight|")
    domains: list[Domain] = Field(min_length=1, max_length=30)
    question_types: dict[QuestionType, float]
    difficulty: dict[Literal["easy", "medium", "hard"], float]
    exam_types: dict[str, ExamTypeSpec] = Field(min_length=1)

    @field_validator("exam_types")
    @classmethod
    def _names(cls, value: dict[str, ExamTypeSpec]) -> dict[str, ExamTypeSpec]:
        for name in value:
            if not name.replace("_", "").replace("-", "").isalnum() or name != name.lower() or len(name) > 40:
                raise ValueError(f"exam type {name!r} must be lower-case letters, digits, _ or -")
        return value

    @model_validator(mode="after")
    def _weights(self) -> Self:
        _mix_sums_to_one({d.name: d.weight for d in self.domains}, "domain weights")
        _mix_sums_to_one({str(k): v for k, v in self.question_types.items()}, "question_types")
        _mix_sums_to_one({str(k): v for k, v in self.difficulty.items()}, "difficulty")
        if len({d.name.casefold() for d in self.domains}) != len(self.domains):
            raise ValueError("domain names must be distinct")
        return self


class SectionSpec(BaseModel):
    """One section of one exam: what a single queue job generates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exam_id: str
    program: str
    exam_type: str
    subject: str
    index: int = Field(ge=0)
    domain: str
    count: int = Field(ge=1)
    offset: int = Field(ge=0, description="questions before this section, so numbering runs across the exam")
    question_types: dict[QuestionType, int]
    difficulty: dict[str, float]


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder apportionment: integer counts summing to ``total``, each within 1 of weight x total."""
    exact = {name: total * w for name, w in weights.items()}
    counts = {name: math.floor(v) for name, v in exact.items()}
    left = total - sum(counts.values())
    for name in sorted(exact, key=lambda n: (counts[n] - exact[n], n))[:left]:
        counts[name] += 1
    return counts


def plan_sections(program: Program, exam_type: str, exam_id: str) -> list[SectionSpec]:
    """The sections of one exam: each domain's share of the questions, cut into jobs of at most
    ``section_max_questions``. Deterministic, so a section can be regenerated alone."""
    spec = program.exam_types[exam_type]
    per_domain = apportion(spec.questions, {d.name: d.weight for d in program.domains})
    sections: list[SectionSpec] = []
    offset = 0
    for domain in program.domains:
        count = per_domain[domain.name]
        if count == 0:
            continue
        parts = math.ceil(count / spec.section_max_questions)
        for size in (count // parts + (1 if i < count % parts else 0) for i in range(parts)):
            types = apportion(size, {str(k): v for k, v in program.question_types.items()})
            sections.append(
                SectionSpec(
                    exam_id=exam_id,
                    program=program.program,
                    exam_type=exam_type,
                    subject=program.subject,
                    index=len(sections),
                    domain=domain.name,
                    count=size,
                    offset=offset,
                    question_types={QuestionType(k): v for k, v in types.items() if v},
                    difficulty={str(k): v for k, v in program.difficulty.items()},
                )
            )
            offset += size
    return sections


def _prompt_key(question: Any) -> str:
    return " ".join(str(question.prompt).split()).casefold()


def section_problems(spec: SectionSpec, body: dict[str, Any]) -> list[str]:
    """A generated section against its spec: schema, count, domain, question types, no repeats."""
    # The content schemas load with the first section checked (the worker), not with the catalogue (the API).
    from pregen.domain.schemas import ExamSection

    try:
        section = ExamSection.model_validate(body)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:30]
    problems: list[str] = []
    if section.domain != spec.domain:
        problems.append(f"domain must be {spec.domain!r}")
    if len(section.questions) != spec.count:
        problems.append(f"expected exactly {spec.count} questions, got {len(section.questions)}")
    allowed = set(spec.question_types)
    wrong = [i for i, q in enumerate(section.questions) if QuestionType(q.type) not in allowed]
    if wrong:
        problems.append(f"questions {wrong[:5]} are not of an allowed type ({', '.join(sorted(allowed))})")
    prompts = [_prompt_key(q) for q in section.questions]
    if len(set(prompts)) != len(prompts):
        problems.append("questions must not repeat")
    return problems


def validate_exam(program: Program, exam_type: str, body: dict[str, Any]) -> Exam:
    """An assembled exam must be complete and valid before it is claimable.

    - schema-valid (``schemas.Exam``: every question of every section),
    - exactly the blueprint's question count,
    - each domain's share within ``max(domain_tolerance, 1 / questions)`` of its weight (one question of
      rounding is always allowed, so small exams are not held to a finer grain than whole questions),
    - no question repeated anywhere in the exam (prompts compared with white space and case folded).
    """
    from pregen.domain.schemas import Exam

    spec = program.exam_types[exam_type]
    try:
        exam = Exam.model_validate(body)
    except ValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()][:30]
        raise ContentInvalid("the exam does not match its schema", errors) from exc
    problems: list[str] = []
    questions = [q for s in exam.sections for q in s.questions]
    if exam.exam_type != spec.style:
        problems.append(f"exam_type must be {spec.style}")
    if len(questions) != spec.questions:
        problems.append(f"expected exactly {spec.questions} questions, got {len(questions)}")
    counts: dict[str, int] = {}
    for section in exam.sections:
        counts[section.domain] = counts.get(section.domain, 0) + len(section.questions)
    unknown = set(counts) - {d.name for d in program.domains}
    if unknown:
        problems.append(f"sections outside the blueprint: {sorted(unknown)}")
    tolerance = max(program.domain_tolerance, 1 / spec.questions)
    total = max(len(questions), 1)
    for domain in program.domains:
        share = counts.get(domain.name, 0) / total
        if abs(share - domain.weight) > tolerance + 1e-9:
            problems.append(f"domain {domain.name!r} has {share:.3f} of the questions, weight {domain.weight}")
    prompts = [_prompt_key(q) for q in questions]
    if len(set(prompts)) != len(prompts):
        problems.append(f"{len(prompts) - len(set(prompts))} questions repeat")
    if problems:
        raise ContentInvalid("the exam does not meet its blueprint", problems)
    return exam


class Catalogue:
    """Every program, and the exam types they define (an exam type names exactly one program)."""

    def __init__(self, programs: list[Program]) -> None:
        self.programs = {p.program: p for p in programs}
        self.exam_types: dict[str, Program] = {}
        for program in programs:
            for name in program.exam_types:
                if name in self.exam_types:
                    raise ValueError(f"exam type {name!r} is defined by two programs")
                self.exam_types[name] = program

    def program_for(self, exam_type: str) -> Program:
        program = self.exam_types.get(exam_type)
        if program is None:
            known = ", ".join(sorted(self.exam_types))
            raise NotFound(f"no exam type {exam_type!r}; known: {known}")
        return program


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The programs shipped in ``pregen/data/programs``, loaded and validated once per container."""
    folder = resources.files("pregen") / "data" / "programs"
    programs = [
        Program.model_validate_json(entry.read_text())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    ]
    return Catalogue(programs)
