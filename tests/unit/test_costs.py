"""Cost figures for analytics from day counters: per model, average per kind, and cost saved by hits."""

from __future__ import annotations

import pytest

from pregen.services.costs import cost_figures


def test_cost_saved_is_hits_times_the_average_generation_cost_of_the_kind() -> None:
    # Given 4 lessons generated for $0.04 in all and 2 exams for $1.00, and 10 lesson hits, 3 exam hits
    figures = cost_figures(
        {
            "generated": {"lesson": 4, "exam": 2},
            "cost_usd": {"lesson": 0.04, "exam": 1.0},
            "hits": {"lesson": 10, "exam": 3},
            "cost_usd_model": {"claude-haiku-5-5": 0.04, "claude-sonnet-5-5": 1.0},
            "generated_model": {"claude-haiku-5-5": 4, "claude-sonnet-5-5": 2},
        }
    )
    # Then lessons average $0.01 and exams $0.50: saved 10 x 0.01 + 3 x 0.50 = $1.60
    assert figures["averageCostUsdByKind"] == {"lesson": 0.01, "exam": 0.5}
    assert figures["costSavedUsdByKind"] == {"lesson": pytest.approx(0.1), "exam": pytest.approx(1.5)}
    assert figures["costSavedUsdTotal"] == pytest.approx(1.6)
    assert figures["costUsdTotal"] == pytest.approx(1.04)
    assert figures["generatedByModel"] == {"claude-haiku-5-5": 4, "claude-sonnet-5-5": 2}


def test_without_hit_counters_cost_saved_is_unknown_not_zero() -> None:
    figures = cost_figures({"generated": {"lesson": 1}, "cost_usd": {"lesson": 0.01}})
    assert figures["costSavedUsdByKind"] is None
    assert figures["costSavedUsdTotal"] is None


def test_what_message_batches_saved_is_reported_by_kind_from_its_own_counters() -> None:
    figures = cost_figures({"batch_saved_usd": {"lesson": 0.0123456789, "question_set": 0.002}})
    assert figures["batchSavedUsdByKind"] == {"lesson": 0.012346, "question_set": 0.002}
    assert cost_figures({})["batchSavedUsdByKind"] == {}
