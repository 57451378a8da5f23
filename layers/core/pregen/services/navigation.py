"""Navigation: record a learner's move, then pre-generate what they are likely to need next.

Recording is one atomic ADD on the scope's small counts item (no read first, no scan). Predicting reads the
scope's counts (one GetItem, only when a rule starts at the landing step) and, for every rule whose
estimated probability reaches its confidence, pre-generates the rule's items at the predictive priority (80,
interactive lane) through :func:`pregen.services.content.pregenerate`, so cached and in-flight keys are skipped and
a key queued by warming in the background lane is promoted rather than generated twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from pregen.domain.errors import OverAllowance, RateLimited
from pregen.domain.models import Caller, Priority, Role
from pregen.domain.prediction import Step, Target, TransitionCounts, estimate, items_for_step, move_of
from pregen.domain.text import canonical_name, check_plain, normalise_text, plain_field
from pregen.services.content import pregenerate

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest
    from pregen.domain.prediction import PreloadRules
    from pregen.domain.warming import WarmingConfig
    from pregen.ports import TransitionStore
    from pregen.services.content import ServeDeps

PREDICTION_CALLER = Caller(sub="pregen-prediction", role=Role.ADMIN)
_LIMITS = {"subject": 80, "grade": 20, "next_skill": 120}


class Place(BaseModel):
    """A step of a skill."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: Step
    skill: str = plain_field(120, blank=False)

    @field_validator("skill", mode="before")
    @classmethod
    def _skill(cls, value: Any) -> Any:
        if isinstance(value, str):
            check_plain(value, 120, blank=False)
        return value


class NavigationEvent(BaseModel):
    """A learner's move ``from`` one place ``to`` another within a subject. No ``from``: the session's first place."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    subject: str = plain_field(80, blank=False)
    grade: str | None = plain_field(20, default=None, description="used when the token carries no grade")
    origin: Place | None = Field(default=None, alias="from")
    to: Place
    path: list[Step] = Field(
        default_factory=list,
        max_length=20,
        description="steps visited in from.skill this session before from (the app keeps them); counts reaches",
    )
    next_skill: str | None = plain_field(
        120, default=None, description="the skill after to.skill in the app's curriculum"
    )

    @field_validator("subject", "grade", "next_skill", mode="before")
    @classmethod
    def _plain(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            check_plain(value, _LIMITS[str(info.field_name)], blank=info.field_name != "subject")
        return value

    @model_validator(mode="after")
    def _subject(self) -> NavigationEvent:
        if not normalise_text(self.subject):
            raise ValueError("subject must not be blank")
        return self


@dataclass
class NavigationDeps:
    serve: ServeDeps
    transitions: TransitionStore
    rules: PreloadRules
    warming: WarmingConfig


@dataclass(frozen=True)
class Prepared:
    """One request a preload prepared: its canonical form (the query an app sends to ``GET /v1/content`` for it),
    its key, and whether it was queued, joined in flight or found cached."""

    request: dict[str, Any]
    key: str
    status: Literal["queued", "in_flight", "cached"]
    job_id: str | None = None


@dataclass
class Preload:
    target: str
    probability: float
    confidence: float
    source: str
    items: int = 0
    queued: int = 0
    in_flight: int = 0
    cached: int = 0
    skipped: str | None = None
    requests: list[Prepared] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        shown = {
            k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in self.__dict__.items()
            if v is not None and k != "requests"
        }
        shown["requests"] = [{k: v for k, v in p.__dict__.items() if v is not None} for p in self.requests]
        return shown


@dataclass
class NavigationOutcome:
    recorded: str | None
    preloads: list[Preload] = field(default_factory=list)


def scope_key(grade: str | None, subject: str) -> str:
    """The counts item of a grade and subject. The subject is canonical, so "Algebra 1" and "algebra_1" count
    together."""
    return f"nav#{normalise_text(grade or '*')}#{canonical_name(subject)}"


def record_navigation(
    event: NavigationEvent,
    grade: str | None,
    learner: Caller,
    deps: NavigationDeps,
    *,
    correlation_id: str | None = None,
) -> NavigationOutcome:
    now = deps.serve.clock.now()
    # Predict from the counts as they were before this landing: its own visit has not had time to reach anything.
    preloads = preload(event, grade, learner, deps, correlation_id=correlation_id)
    if event.origin is None:
        move = move_of([], None, event.to.step, canonical_name(event.to.skill))
    else:
        path = [*event.path, event.origin.step]
        move = move_of(path, canonical_name(event.origin.skill), event.to.step, canonical_name(event.to.skill))
    reached = [(origin.value, target.value) for origin, target in move.reached]
    deps.transitions.record(scope_key(grade, event.subject), move.visit.value if move.visit else None, reached, now)
    recorded = ", ".join(f"{o}->{t}" for o, t in reached) or None
    return NavigationOutcome(recorded=recorded, preloads=preloads)


def preload(
    event: NavigationEvent,
    grade: str | None,
    learner: Caller,
    deps: NavigationDeps,
    *,
    correlation_id: str | None = None,
) -> list[Preload]:
    """Pre-generate the items of every rule from the landing step whose estimate reaches its confidence.

    The subject and skills come from the learner's event, so only what the warming catalogue names is generated
    (text a caller made up never reaches the model this way), and what it generates is charged to the learner
    whose navigation asked (429 past their allowance: the navigation itself is still recorded)."""
    rules = deps.rules.from_step(event.to.step)
    if not rules:
        return []
    counts = deps.transitions.read(scope_key(grade, event.subject)).get(event.to.step.value, TransitionCounts())
    preloads = []
    for rule in rules:
        guess = estimate(counts, rule, deps.rules.prior_weight, deps.rules.min_visits)
        outcome = Preload(
            target=rule.target.value, probability=guess.probability, confidence=rule.confidence, source=guess.source
        )
        preloads.append(outcome)
        if guess.probability < rule.confidence:
            outcome.skipped = "below confidence"
            continue
        skill = event.to.skill
        if rule.target is Target.NEXT_SKILL:
            following = event.next_skill or deps.warming.next_skill(grade, event.subject, event.to.skill)
            if following is None:
                outcome.skipped = "next skill unknown"
                continue
            skill = following
        if not deps.warming.covers(grade, event.subject, skill):
            outcome.skipped = "not in the warming catalogue"
            continue
        warmed = deps.warming.question_types(grade, event.subject)
        requests = items_for_step(rule.target, event.subject, skill, grade, rule.items, experience_types=warmed)
        outcome.items = len(requests)
        _pregenerate_for(outcome, requests, learner, deps, correlation_id)
    return preloads


def _pregenerate_for(
    outcome: Preload, requests: list[ContentRequest], learner: Caller, deps: NavigationDeps, correlation_id: str | None
) -> None:
    """One rule's items, charged to the learner; a refusal skips the rule (the navigation is still recorded)."""
    try:
        results = pregenerate(
            requests,
            Priority.PREDICTIVE,
            PREDICTION_CALLER,
            deps.serve,
            correlation_id=correlation_id,
            charge_to=learner,
            action="navigation",
        )
    except (RateLimited, OverAllowance) as refused:
        outcome.skipped = f"not charged: {refused}"
        return
    for request, result in zip(requests, results, strict=True):
        outcome.requests.append(Prepared(request.canonical(), result.key, result.status, result.job_id))
        if result.status == "queued":
            outcome.queued += 1
        elif result.status == "in_flight":
            outcome.in_flight += 1
        else:
            outcome.cached += 1
