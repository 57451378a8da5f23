"""Model time: first token plus output tokens over the tier's rate, jitter deterministic per seed."""

from __future__ import annotations

import pytest

from pregen.domain.model_time import DEFAULT_TIMING, TierTiming, expected_seconds, jittered, tier_of


def test_tiers_follow_the_model_family() -> None:
    assert tier_of("claude-haiku-5-5") == "small"
    assert tier_of("claude-sonnet-5-5") == "large"
    assert tier_of("claude-opus-5-5") == "large"


def test_a_long_answer_on_the_large_tier_takes_minutes_and_the_small_tier_is_faster() -> None:
    # Given a 16k-token answer, when its time is estimated on each tier
    large = expected_seconds("claude-sonnet-5-5", 16_000)
    small = expected_seconds("claude-haiku-5-5", 16_000)
    # Then the large tier takes minutes (first token + tokens over the rate), the small one less
    assert large == pytest.approx(DEFAULT_TIMING["large"].first_token_s + 16_000 / DEFAULT_TIMING["large"].tokens_per_s)
    assert large > 120
    assert small < large


def test_timing_can_be_overridden() -> None:
    fast = {"large": TierTiming(0.0, 1_000.0), "small": TierTiming(0.0, 1_000.0)}
    assert expected_seconds("claude-sonnet-5-5", 2_000, fast) == pytest.approx(2.0)


def test_jitter_stays_within_its_bound_and_is_the_same_for_the_same_seed() -> None:
    values = [jittered(10.0, f"key-{i}", 0.2) for i in range(200)]
    assert all(8.0 <= v <= 12.0 for v in values)
    assert len(set(values)) > 150  # calls differ from each other
    assert jittered(10.0, "key-1", 0.2) == jittered(10.0, "key-1", 0.2)
