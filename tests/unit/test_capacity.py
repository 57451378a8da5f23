"""The capacity model (pregen_tools.capacity): held within 10 % of the workload simulator on the simulator's own
workload, and its arithmetic checked where it can be worked out by hand."""

from __future__ import annotations

import dataclasses
import random

import pytest

from bench import capacity_check, simulate
from pregen_tools import capacity_report
from pregen_tools.capacity import Inputs, estimate, popularity, topic_visits, views_per_landing
from pregen_tools.cli import build_parser

CHECKED = {"views", "hits (served without waiting)", "generations", "model calls", "DynamoDB requests"}


@pytest.mark.parametrize("seed", [7, 11])
def test_the_model_stays_within_ten_percent_of_the_simulator(seed: int) -> None:
    # Given the simulator's workload at a scale it runs in seconds
    p = simulate.Params(learners=300, days=7, seed=seed)
    # When the simulator runs it (counting every port call) and the model predicts it from the same inputs
    measured = capacity_check.run_simulator(p)
    rows = capacity_check.compare(measured, estimate(capacity_check.model_inputs(p)))
    # Then every figure the issue names agrees within 10 %
    off = {name: f"{100 * d:+.1f} %" for name, _, _, d in rows if name in CHECKED and abs(d) > 0.10}
    assert not off, off
    assert {name for name, *_ in rows} >= CHECKED


def test_views_per_landing_is_the_expectation_of_the_simulators_picks() -> None:
    # Given the simulator's random picks of a step's items
    rng, noise, samples = random.Random(3), 0.3, 20_000
    expected = views_per_landing(noise)
    for step, means in expected.items():
        counts = [0] * len(means)
        for _ in range(samples):
            for index in simulate._views(step, rng, noise):
                counts[index] += 1
        # Then their average views per item match the model's expectation
        for index, mean in enumerate(means):
            assert counts[index] / samples == pytest.approx(mean, abs=0.015), (step, index)


def test_rules_fire_when_the_reach_clears_their_confidence() -> None:
    pop = popularity(0.0)
    # learn -> experience 0.86, experience -> discover 0.76, experience -> assessment 0.16 + 0.76 x 0.8
    assert pop.landings["experience"] == pytest.approx(0.86)
    assert pop.landings["discover"] == pytest.approx(0.86 * 0.76)
    # learn -> next skill is reached by far fewer than its 0.9 confidence: it prepares nothing
    assert pop.prepares_next == 0
    # landing on learn checks experience's 3 items; on experience, discover's 3 and assessment's 5
    assert pop.checks_per_visit == pytest.approx(3 * 1.0 + 8 * 0.86)


def test_a_topic_walk_sums_to_the_topics_a_session_visits() -> None:
    visits = topic_visits(topics=1000, zipf=1.0, moves_on=0.5)
    assert sum(visits) == pytest.approx(2.0, rel=0.01)  # 1 / (1 - 0.5), the end of the subject far away
    assert visits == sorted(visits, reverse=True)


def test_a_catalogue_asked_for_many_times_over_is_generated_once_per_lifetime() -> None:
    # Given a tiny catalogue and a huge audience: every item is asked for within its lifetime
    inputs = Inputs(learners=1_000_000, subjects=1, topics_per_subject=4, personal_share=0.0, noise=0.3)
    e = estimate(inputs)
    items = 4 * sum(len(v) for v in views_per_landing(0.3).values())
    # Then each is generated once per ttl_days, and nearly every view is a hit
    assert e.total_generations == pytest.approx(items / inputs.ttl_days, rel=0.01)
    assert e.hits / e.views > 0.9999


def test_personal_content_is_generated_per_learner() -> None:
    base = Inputs(learners=10_000, personal_share=0.0)
    personal = Inputs(learners=10_000, personal_share=0.5, personal_views_per_item=2)
    extra = estimate(personal).generations["personal"]
    assert extra == pytest.approx(10_000 * 20 * 0.5 / 2)
    assert estimate(base).generations["personal"] == 0


def test_pregen_capacity_prints_every_figure_and_names_the_binding_limit() -> None:
    # Given the command line of the issue
    args = build_parser().parse_args(["capacity", "--learners", "1000000"])
    # When it runs
    text = capacity_report.run(args)
    # Then it prints routes, functions, tables, the hottest item, SQS, tokens, dollars and the limit that binds
    for heading in (
        "GET /v1/content",
        "get-content",
        "DynamoDB table",
        "Hottest item",
        "SQS",
        "output tok/min",
        "$ a month",
        "Binding limit:",
    ):
        assert heading in text
    f = capacity_report.figures(estimate(capacity_report.inputs_from(args)))
    _, used, limit = f.binding
    assert all(used / limit >= u / lim for _, u, lim in f.limits)


def test_a_burst_on_an_assigned_item_moves_the_hot_key_towards_the_partition_limit() -> None:
    quiet = capacity_report.figures(estimate(Inputs(learners=10_000_000)))
    hot = Inputs(learners=10_000_000, assigned_views_per_day=1, burst=10, hot_cache_seconds=0)
    assigned = capacity_report.figures(estimate(hot))
    # every learner once a day, the peak hour's share, ten times faster in its busiest minute
    assert assigned.hot_reads_per_second == pytest.approx(10_000_000 * 0.12 / 3600 * 10, rel=0.01)
    assert quiet.hot_reads_per_second < assigned.hot_reads_per_second / 100
    # Without the hot-key cache every read reaches the item's partition, past its limit
    assert assigned.hot_table_reads_per_second == assigned.hot_reads_per_second
    assert _share(assigned, "hottest item") > 1
    # With it, each get-content environment reads the item once per HOT_CACHE_SECONDS at most
    cached = capacity_report.figures(estimate(dataclasses.replace(hot, hot_cache_seconds=5)))
    environments = cached.concurrency("get-content", peak=True) + cached.hot_reads_per_second * hot.hit_ms / 1000
    assert cached.hot_table_reads_per_second == pytest.approx(environments / 5)
    assert _share(cached, "hottest item") < 0.1


def _share(f: capacity_report.Figures, prefix: str) -> float:
    return next(used / limit for name, used, limit in f.limits if name.startswith(prefix))


def test_every_input_is_a_flag() -> None:
    args = build_parser().parse_args(["capacity", "--no-warming", "--zipf", "0.8", "--provider-tier", "2"])
    inputs = capacity_report.inputs_from(args)
    assert (inputs.warming, inputs.zipf, inputs.provider_tier) == (False, 0.8, "2")
