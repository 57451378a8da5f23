"""Cost from the price table, checked against figures worked out by hand.

claude-sonnet-5-5 in pregen/data/prices.json, US dollars per million tokens:
input 3.00, output 15.00, cache write 5 min 3.75, cache write 1 h 6.00, cache read 0.30; batch discount 0.5.
"""

from __future__ import annotations

import pytest

from pregen.domain.models import TokenUsage
from pregen.domain.pricing import default_prices

SONNET = "claude-sonnet-5-5"


def test_input_tokens_are_priced_at_the_input_rate() -> None:
    # Given 12,345 uncached input tokens
    usage = TokenUsage(input_tokens=12_345)

    # When priced
    cost = default_prices().cost(SONNET, usage)

    # Then 12,345 x 3.00 / 1,000,000 = 0.037035
    assert cost == pytest.approx(0.037035)


def test_output_tokens_are_priced_at_the_output_rate() -> None:
    # Given 6,789 output tokens
    usage = TokenUsage(output_tokens=6_789)

    # When priced
    cost = default_prices().cost(SONNET, usage)

    # Then 6,789 x 15.00 / 1,000,000 = 0.101835
    assert cost == pytest.approx(0.101835)


def test_cache_writes_default_to_the_five_minute_rate() -> None:
    # Given 4,000 tokens written to the cache, none of them with the 1-hour TTL
    usage = TokenUsage(cache_creation_input_tokens=4_000)

    # When priced
    cost = default_prices().cost(SONNET, usage)

    # Then 4,000 x 3.75 / 1,000,000 = 0.015
    assert cost == pytest.approx(0.015)


def test_one_hour_cache_writes_are_priced_at_their_own_rate() -> None:
    # Given 4,000 tokens written to the cache, all with the 1-hour TTL
    usage = TokenUsage(cache_creation_input_tokens=4_000)

    # When priced
    cost = default_prices().cost(SONNET, usage, cache_write_1h_tokens=4_000)

    # Then 4,000 x 6.00 / 1,000,000 = 0.024
    assert cost == pytest.approx(0.024)


def test_mixed_cache_writes_are_split_between_the_two_rates() -> None:
    # Given 5,000 cache writes of which 2,000 with the 1-hour TTL (so 3,000 with the 5-minute TTL)
    usage = TokenUsage(cache_creation_input_tokens=5_000)

    # When priced
    cost = default_prices().cost(SONNET, usage, cache_write_1h_tokens=2_000)

    # Then (3,000 x 3.75 + 2,000 x 6.00) / 1,000,000 = (11,250 + 12,000) / 1,000,000 = 0.02325
    assert cost == pytest.approx(0.02325)


def test_cache_reads_are_priced_at_the_cache_read_rate() -> None:
    # Given 50,000 tokens read from the cache
    usage = TokenUsage(cache_read_input_tokens=50_000)

    # When priced
    cost = default_prices().cost(SONNET, usage)

    # Then 50,000 x 0.30 / 1,000,000 = 0.015
    assert cost == pytest.approx(0.015)


ALL_KINDS = TokenUsage(
    input_tokens=1_000, output_tokens=500, cache_creation_input_tokens=2_000, cache_read_input_tokens=10_000
)
# 1,000 x 3.00 + 500 x 15.00 + 1,500 x 3.75 + 500 x 6.00 + 10,000 x 0.30
# = 3,000 + 7,500 + 5,625 + 3,000 + 3,000 = 22,125 per million = 0.022125
ALL_KINDS_COST = 0.022125


def test_every_token_kind_is_priced_separately_and_added() -> None:
    # Given usage of all four kinds, 500 of the 2,000 cache writes with the 1-hour TTL
    # When priced
    cost = default_prices().cost(SONNET, ALL_KINDS, cache_write_1h_tokens=500)

    # Then each kind is priced at its rate and the sum is the cost
    assert cost == pytest.approx(ALL_KINDS_COST)


def test_batch_requests_get_the_batch_discount() -> None:
    # Given the same usage sent through the batch API
    # When priced as a batch
    cost = default_prices().cost(SONNET, ALL_KINDS, cache_write_1h_tokens=500, batch=True)

    # Then 0.022125 x 0.5 = 0.0110625
    assert cost == pytest.approx(0.0110625)


def test_no_usage_costs_nothing() -> None:
    assert default_prices().cost(SONNET, TokenUsage()) == 0.0


def test_unknown_model_raises_key_error() -> None:
    # Given a model the price table does not list
    # When priced / Then it fails loudly rather than costing nothing
    with pytest.raises(KeyError, match="gpt-4o"):
        default_prices().cost("gpt-4o", ALL_KINDS)


def test_dated_snapshot_is_priced_as_its_family() -> None:
    # Given a dated snapshot of claude-sonnet-5-5
    snapshot = "claude-sonnet-5-5-20260115"

    # When priced
    prices = default_prices()
    cost = prices.cost(snapshot, ALL_KINDS, cache_write_1h_tokens=500)

    # Then it costs what its family costs
    assert prices.price(snapshot) == prices.price(SONNET)
    assert cost == pytest.approx(ALL_KINDS_COST)
