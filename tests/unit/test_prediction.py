"""The transition model, the preload rules and the items of a step: pure functions, no AWS."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, Kind, QuestionType
from pregen.domain.prediction import (
    PreloadRule,
    Step,
    Target,
    TransitionCounts,
    default_preload_rules,
    estimate,
    items_for_step,
    move_of,
    parse_preload_rules,
)
from pregen.domain.warming import default_warming_config

RULE = PreloadRule.model_validate({"from": "learn", "to": "experience", "items": 3, "confidence": 0.8})


def test_the_default_rules_are_the_four_of_the_design() -> None:
    rules = {(r.origin.value, r.target.value): (r.items, r.confidence) for r in default_preload_rules().rules}
    assert rules == {
        ("learn", "experience"): (3, 0.8),
        ("experience", "discover"): (3, 0.7),
        ("learn", "next_skill"): (1, 0.9),
        ("experience", "assessment"): (5, 0.6),
    }


def test_cold_start_uses_the_rules_prior() -> None:
    # Given no recorded moves, the estimate is the prior (the rule's confidence unless it states one)
    guess = estimate(TransitionCounts(), RULE, prior_weight=10)
    assert guess.source == "prior"
    assert guess.probability == pytest.approx(0.8)
    explicit = RULE.model_copy(update={"prior": 0.3})
    assert estimate(TransitionCounts(), explicit, prior_weight=10).probability == pytest.approx(0.3)


def test_the_estimate_moves_from_the_prior_to_the_observed_share() -> None:
    # Given 90 of 100 learners who landed on learn reached experience
    counts = TransitionCounts(visits=100, reached={"experience": 90, "next_skill": 10})
    guess = estimate(counts, RULE, prior_weight=10)
    # Then the estimate is the smoothed share (90 + 0.8·10) / (100 + 10)
    assert guess.source == "learned"
    assert guess.probability == pytest.approx(98 / 110)
    # And with much more data it converges to the observed share
    many = TransitionCounts(visits=100_000, reached={"experience": 50_000})
    assert estimate(many, RULE, prior_weight=10).probability == pytest.approx(0.5, abs=1e-3)


def test_a_few_moves_do_not_swing_the_estimate_below_the_confidence() -> None:
    # Given one single visit that never reached experience, the rule still fires (a Beta prior worth 10 visits)
    one_off = TransitionCounts(visits=1, reached={"next_skill": 1})
    assert estimate(one_off, RULE, prior_weight=10).probability == pytest.approx(8 / 11)
    # With no prior weight the data alone decides
    assert estimate(one_off, RULE, prior_weight=0).probability == 0


def test_the_prior_holds_until_the_origin_has_enough_visits() -> None:
    thin = TransitionCounts(visits=19, reached={})
    assert estimate(thin, RULE, prior_weight=10, min_visits=20).source == "prior"
    assert estimate(thin, RULE, prior_weight=10, min_visits=20).probability == pytest.approx(0.8)
    enough = TransitionCounts(visits=20, reached={})
    assert estimate(enough, RULE, prior_weight=10, min_visits=20).probability == pytest.approx(8 / 30)


def test_counts_larger_than_the_total_are_capped() -> None:
    assert estimate(TransitionCounts(visits=2, reached={"experience": 5}), RULE, prior_weight=0).probability == 1


def test_a_move_counts_a_first_visit_and_the_reaches_from_earlier_steps_of_the_skill() -> None:
    learn, experience, discover = Step.LEARN, Step.EXPERIENCE, Step.DISCOVER
    # A session's first place: a visit, nothing reached
    assert move_of([], None, learn, "fractions") == move_of([learn], None, learn, "fractions")
    assert move_of([], None, learn, "fractions").reached == ()
    # learn → experience → discover: discover is reached from both earlier steps
    move = move_of([learn, experience], "fractions", discover, "fractions")
    assert move.visit is discover
    assert move.reached == ((learn, Target.DISCOVER), (experience, Target.DISCOVER))
    # Going back to a step already visited counts nothing (each visit counts a step once)
    assert move_of([learn, experience], "fractions", learn, "fractions").reached == ()
    assert move_of([learn, experience], "fractions", learn, "fractions").visit is None
    # Another skill: next_skill is reached from every step of the old one, and the new step is visited
    move = move_of([learn, experience, learn], "fractions", learn, "decimals")
    assert move.visit is learn
    assert move.reached == ((learn, Target.NEXT_SKILL), (experience, Target.NEXT_SKILL))


@pytest.mark.parametrize(
    "rule",
    [
        {"from": "learn", "to": "learn", "items": 1, "confidence": 0.5},  # not a move
        {"from": "learn", "to": "discover", "items": 9, "confidence": 0.5},  # discover has 4 items
        {"from": "learn", "to": "experience", "items": 1, "confidence": 1.5},
        {"from": "learn", "to": "experience", "items": 0, "confidence": 0.5},
        {"from": "next_skill", "to": "learn", "items": 1, "confidence": 0.5},  # not a place to land on
        {"from": "learn", "to": "experience", "items": 1, "confidence": 0.5, "typo": 1},
    ],
)
def test_invalid_rules_are_refused(rule: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_preload_rules({"rules": [rule]})


def test_two_rules_for_one_move_are_refused() -> None:
    rule = {"from": "learn", "to": "experience", "items": 1, "confidence": 0.5}
    with pytest.raises(ValidationError):
        parse_preload_rules({"rules": [rule, rule]})


def test_items_for_a_step_are_derived_from_the_skill_alone() -> None:
    caller_a, caller_b = Caller(sub="a"), Caller(sub="b")
    learn = items_for_step(Target.LEARN, "Math", "Fractions", "5", 2)
    assert [(r.kind, r.lesson_number) for r in learn] == [(Kind.LESSON, 1), (Kind.LESSON, 2)]
    experience = items_for_step(Target.EXPERIENCE, "Math", "Fractions", "5", 3)
    assert [r.question_type for r in experience] == [
        QuestionType.MULTIPLE_CHOICE,
        QuestionType.TRUE_FALSE,
        QuestionType.SHORT_ANSWER,
    ]
    discover = items_for_step(Target.DISCOVER, "Math", "Fractions", "5", 3)
    assert {r.kind for r in discover} == {Kind.LESSON}
    assert len({r.learning_style for r in discover}) == 3
    assessment = items_for_step(Target.ASSESSMENT, "Math", "Fractions", "5", 5)
    assert {r.count for r in assessment} == {10}
    assert len({cache_key(r, caller_a) for r in assessment}) == 5
    # Shared: two learners at the same step of the same skill need the same keys
    assert [cache_key(r, caller_a) for r in learn] == [cache_key(r, caller_b) for r in learn]
    # Asking for more items than a step has gives all it has
    assert len(items_for_step(Target.DISCOVER, "Math", "Fractions", "5", 10)) == 4


def test_warmed_sets_are_the_first_experience_items_of_a_skill() -> None:
    # Given the default warming configuration for grade 10 math
    caller = Caller(sub="anyone")
    warmed = {cache_key(r, caller) for r in default_warming_config().requests_for("10", ["math"])}
    skill = default_warming_config().grades["10"].subjects["math"].skills[0]
    # Then a learner at that skill's experience step asks for keys that warming prepared
    types = default_warming_config().question_types("10", "Math")
    assert types == ["multiple_choice", "numeric", "true_false"]  # the original warming table's, for math
    experience = items_for_step(Target.EXPERIENCE, "Math", skill, "10", 3, experience_types=types)
    assert {cache_key(r, caller) for r in experience} <= warmed
    # Past the warmed types, the step goes on with the others, each once
    rest = items_for_step(Target.EXPERIENCE, "Math", skill, "10", 5, experience_types=types)[3:]
    assert [r.question_type for r in rest] == ["short_answer", "fill_blank"]
