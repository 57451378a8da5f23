"""Navigation steps, the transition model and the preload rules (data in ``pregen/data/preload_rules.json``).

A learner works through a skill in steps: ``learn`` (lessons), ``experience`` (practice question sets),
``discover`` (the same idea in other learning styles) and ``assessment`` (longer question sets), and then moves on
to the next skill (``next_skill``). The model estimates, for a step ``from`` and a later step ``to``, how likely a
learner who lands on ``from`` reaches ``to`` before leaving the skill: P(to | from) = reached / visits, counted per
grade and subject, smoothed towards the rule's prior so that a handful of moves cannot swing it (with no data, cold
start, the estimate *is* the prior). "Reaches" rather than "goes next" because preloading must look past the very
next step, and because the design's rules are only coherent that way: learn → experience 0.8 and learn → next skill
0.9 cannot both be probabilities of the immediate next step.

"Items for a step" are the content requests a learner at that step will view, derived from the skill alone
(see :func:`items_for_step`), so every learner at the same step of the same skill shares the same cache keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pregen.domain.models import ContentRequest, Kind, LearningStyle, QuestionType

if TYPE_CHECKING:
    from collections.abc import Sequence


class Step(StrEnum):
    """Where a learner can be within a skill."""

    LEARN = "learn"
    EXPERIENCE = "experience"
    DISCOVER = "discover"
    ASSESSMENT = "assessment"


class Target(StrEnum):
    """Where a move leads: a step of the same skill, or on to the next skill."""

    LEARN = "learn"
    EXPERIENCE = "experience"
    DISCOVER = "discover"
    ASSESSMENT = "assessment"
    NEXT_SKILL = "next_skill"


# -- items for a step -------------------------------------------------------------------------------------------------
#
#   learn       lesson n (lesson_number 1, 2, ...)                      up to LESSONS_PER_SKILL
#   experience  question_set of EXPERIENCE_SET_SIZE, one per EXPERIENCE_TYPES entry, in that order
#   discover    lesson 1 in each of DISCOVER_STYLES, in that order
#   assessment  question_set of ASSESSMENT_SET_SIZE, one per ASSESSMENT_TYPES entry, in that order
#   next_skill  the learn items of the next skill
#
# The warming configuration's default question types and count are the first three experience items, so a
# warmed skill's practice sets are the very keys a learner at its experience step asks for.

LESSONS_PER_SKILL = 10
EXPERIENCE_TYPES = (
    QuestionType.MULTIPLE_CHOICE,
    QuestionType.TRUE_FALSE,
    QuestionType.SHORT_ANSWER,
    QuestionType.FILL_BLANK,
    QuestionType.NUMERIC,
)
EXPERIENCE_SET_SIZE = 5
DISCOVER_STYLES = (
    LearningStyle.VISUAL,
    LearningStyle.KINESTHETIC,
    LearningStyle.AUDITORY,
    LearningStyle.READING_WRITING,
)
ASSESSMENT_TYPES = (
    QuestionType.MULTIPLE_CHOICE,
    QuestionType.SHORT_ANSWER,
    QuestionType.FILL_BLANK,
    QuestionType.TRUE_FALSE,
    QuestionType.NUMERIC,
)
ASSESSMENT_SET_SIZE = 10
MAX_ITEMS = {
    Target.LEARN: LESSONS_PER_SKILL,
    Target.EXPERIENCE: len(EXPERIENCE_TYPES),
    Target.DISCOVER: len(DISCOVER_STYLES),
    Target.ASSESSMENT: len(ASSESSMENT_TYPES),
    Target.NEXT_SKILL: LESSONS_PER_SKILL,
}


def experience_order(warmed: Sequence[QuestionType] | None) -> tuple[QuestionType, ...]:
    """The experience step's question types in the order a learner meets them: those the subject's warming
    prepares first (so a learner there finds them ready), then the others."""
    first = tuple(dict.fromkeys(warmed or ()))
    return first + tuple(t for t in EXPERIENCE_TYPES if t not in first)


def step_item(
    target: Target,
    subject: str,
    skill: str,
    grade: str | None,
    index: int,
    *,
    experience_types: Sequence[QuestionType] | None = None,
) -> ContentRequest:
    """Item ``index`` (0-based) of a step of a skill: what a learner there views, in the order they view it.
    ``experience_types``: the question types the subject's warming prepares (pregen.domain.warming)."""
    if not 0 <= index < MAX_ITEMS[target]:
        raise ValueError(f"{target.value} has items 0..{MAX_ITEMS[target] - 1}, not {index}")
    common: dict[str, Any] = {"subject": subject, "topic": skill, "grade": grade}
    if target in (Target.LEARN, Target.NEXT_SKILL):
        return ContentRequest(kind=Kind.LESSON, lesson_number=index + 1, **common)
    if target is Target.EXPERIENCE:
        return ContentRequest(
            kind=Kind.QUESTION_SET,
            question_type=experience_order(experience_types)[index],
            count=EXPERIENCE_SET_SIZE,
            **common,
        )
    if target is Target.DISCOVER:
        return ContentRequest(kind=Kind.LESSON, lesson_number=1, learning_style=DISCOVER_STYLES[index], **common)
    return ContentRequest(
        kind=Kind.QUESTION_SET, question_type=ASSESSMENT_TYPES[index], count=ASSESSMENT_SET_SIZE, **common
    )


def items_for_step(
    target: Target,
    subject: str,
    skill: str,
    grade: str | None,
    count: int,
    *,
    experience_types: Sequence[QuestionType] | None = None,
) -> list[ContentRequest]:
    """The first ``count`` items of a step. For ``next_skill`` pass the *next* skill: its learn items."""
    return [
        step_item(target, subject, skill, grade, i, experience_types=experience_types)
        for i in range(min(count, MAX_ITEMS[target]))
    ]


# -- rules and the model ---------------------------------------------------------------------------------------------


class PreloadRule(BaseModel):
    """When a learner lands on ``from``, prepare ``items`` items of ``to`` if P(to | from) ≥ ``confidence``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    origin: Step = Field(alias="from")
    target: Target = Field(alias="to")
    items: int = Field(ge=1, le=10)
    confidence: float = Field(gt=0, le=1)
    prior: float | None = Field(default=None, ge=0, le=1, description="P(to | from) before any data")

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.items > MAX_ITEMS[self.target]:
            raise ValueError(f"{self.target.value} has at most {MAX_ITEMS[self.target]} items")
        if self.target.value == self.origin.value:
            raise ValueError("a rule needs a move: from and to are the same step")
        return self

    @property
    def prior_probability(self) -> float:
        """Without data a rule is trusted as written: its prior defaults to the confidence it needs."""
        return self.confidence if self.prior is None else self.prior


class PreloadRules(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    prior_weight: float = Field(default=10, ge=0, le=10_000, description="how many visits the prior is worth")
    min_visits: int = Field(default=20, ge=0, le=1_000_000, description="visits of an origin before data counts")
    rules: list[PreloadRule] = Field(max_length=50)

    @model_validator(mode="after")
    def _one_per_move(self) -> Self:
        moves = [(r.origin, r.target) for r in self.rules]
        if len(set(moves)) != len(moves):
            raise ValueError("at most one rule per move (from, to)")
        return self

    def from_step(self, step: Step) -> list[PreloadRule]:
        return [r for r in self.rules if r.origin is step]


@dataclass(frozen=True)
class TransitionCounts:
    """Out of one origin step: how many learners landed on it (``visits``) and how many of them then reached each
    target before leaving the skill (``reached``)."""

    visits: int = 0
    reached: dict[str, int] | None = None

    def count(self, target: Target) -> int:
        return (self.reached or {}).get(target.value, 0)


@dataclass(frozen=True)
class Estimate:
    probability: float
    source: Literal["prior", "learned"]
    observed: int


def estimate(counts: TransitionCounts, rule: PreloadRule, prior_weight: float, min_visits: int = 0) -> Estimate:
    """P(to | from): the rule's prior until the origin has ``min_visits`` visits (cold start), then the observed share
    smoothed towards the prior (a Beta prior worth ``prior_weight`` visits): ``(k + prior·w) / (n + w)``, ``k`` ≤ ``n``.

    Why a floor on visits: a visit counts at landing and its reaches only later, so the first few visits, all still
    in progress, would otherwise drag every rule below its confidence before anyone had time to move on.
    """
    prior = rule.prior_probability
    n = counts.visits
    if n <= 0 or n < min_visits:
        return Estimate(probability=prior, source="prior", observed=0)
    k = min(counts.count(rule.target), n)
    probability = (k + prior * prior_weight) / (n + prior_weight)
    return Estimate(probability=probability, source="learned", observed=n)


@dataclass(frozen=True)
class Move:
    """What one navigation event adds: a first visit to a step (if it is one) and the targets reached from the steps
    visited earlier in the same skill."""

    visit: Step | None
    reached: tuple[tuple[Step, Target], ...]


def move_of(path: list[Step], origin_skill: str | None, to_step: Step, to_skill: str) -> Move:
    """The counts a move adds. ``path`` is the steps already visited in ``origin_skill`` this session, in order.

    Landing again on a step already in the path adds nothing (each visit of a skill counts a step once), so
    ``reached / visits`` stays a share. Moving to another skill reaches ``next_skill`` from every step of the path
    and is a first visit of the new skill's step.
    """
    if origin_skill is None or not path:
        return Move(visit=to_step, reached=())
    if origin_skill != to_skill:
        return Move(visit=to_step, reached=tuple((step, Target.NEXT_SKILL) for step in dict.fromkeys(path)))
    if to_step in path:
        return Move(visit=None, reached=())
    target = Target(to_step.value)
    return Move(visit=to_step, reached=tuple((step, target) for step in dict.fromkeys(path)))


def parse_preload_rules(data: dict[str, Any]) -> PreloadRules:
    return PreloadRules.model_validate(data)


@lru_cache(maxsize=1)
def default_preload_rules() -> PreloadRules:
    text = resources.files("pregen").joinpath("data/preload_rules.json").read_text()
    return parse_preload_rules(json.loads(text))
