"""The fake provider enforces a tier (issue 32) and the generator reads what it says: ``anthropic-ratelimit-*`` on
every answer, 429 with ``retry-after`` past the limit; the provider budget's controller learns from both."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pregen import provider_signals
from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.domain.errors import ProviderThrottled
from pregen.domain.models import ContentRequest, Kind
from pregen.domain.pricing import default_prices
from pregen_fakes.fake_anthropic import Tier, running_fake_anthropic

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pregen.domain.provider_limits import ProviderAnswer

MODEL = "claude-haiku-5-5"
LESSON = ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions", grade="5")  # max_tokens 4,000


@pytest.fixture
def answers() -> Iterator[list[ProviderAnswer]]:
    seen: list[ProviderAnswer] = []
    provider_signals.listen(seen.append)
    yield seen
    provider_signals.forget(seen.append)


def _generator(base_url: str) -> AnthropicGenerator:
    return AnthropicGenerator(
        api_key="sk-test-fake",
        model_for=lambda _: MODEL,
        prices=default_prices(),
        base_url=base_url,
        max_retries=0,
    )


def test_every_answer_carries_the_tiers_figures_and_the_generator_publishes_them(answers: list[ProviderAnswer]) -> None:
    # Given a fake enforcing 10,000 output tokens, 1M input tokens and 10 requests a minute
    with running_fake_anthropic(tier=Tier(10_000, 1_000_000, 10)) as fake:
        # When a lesson is generated
        generation = _generator(fake.base_url).generate(LESSON)
    # Then the answer's figures reached the listeners: the tier's limits, what is left after the call
    [answer] = answers
    assert (answer.model, answer.status) == (MODEL, 200)
    assert answer.limit is not None and answer.remaining is not None
    assert (answer.limit.output_tokens, answer.limit.requests) == (10_000, 10)
    # the 4,000 reserved are corrected to what was produced: only the produced tokens are gone
    assert answer.remaining.output_tokens == pytest.approx(10_000 - generation.usage.output_tokens, abs=5)
    assert answer.remaining.requests == 9
    assert answer.usage.output_tokens == generation.usage.output_tokens
    assert fake.throttled == 0


def test_past_the_tier_the_fake_answers_429_with_retry_after(answers: list[ProviderAnswer]) -> None:
    # Given a tier of 2 requests a minute
    with running_fake_anthropic(tier=Tier(100_000, 1_000_000, 2)) as fake:
        generator = _generator(fake.base_url)
        generator.generate(LESSON)
        generator.generate(LESSON)
        # When a third call comes within the minute
        with pytest.raises(ProviderThrottled) as raised:
            generator.generate(LESSON)
    # Then it is a 429 whose retry-after is the time one request takes to refill (30 s at 2 a minute, less the
    # little time the first two took), and the headers say no request is left
    assert fake.throttled == 1
    assert raised.value.retry_after is not None and 25 <= raised.value.retry_after <= 30
    throttled = answers[-1]
    assert throttled.throttled and throttled.remaining is not None
    assert throttled.remaining.requests == 0


def test_a_call_larger_than_the_bucket_is_refused_until_it_refills(answers: list[ProviderAnswer]) -> None:
    # Given a tier of 3,000 output tokens a minute and a lesson asking up to 4,000
    with running_fake_anthropic(tier=Tier(3_000, 1_000_000, 100)) as fake, pytest.raises(ProviderThrottled) as raised:
        _generator(fake.base_url).generate(LESSON)
    # Then it is refused (the provider counts max_tokens up front), to come back when 1,000 more have refilled
    assert raised.value.retry_after == 20
    assert fake.requests[-1].status == 429
