"""The fake Messages API takes the latency model's time: first token plus the answer's output tokens (its usage)
over the tier's rate, counted from when the request came in (its own work is part of that time)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.domain.model_time import ModelLatency
from pregen.domain.models import ContentRequest, Kind
from pregen.domain.pricing import default_prices
from pregen_fakes import fake_anthropic
from pregen_fakes.fake_anthropic import running_fake_anthropic

if TYPE_CHECKING:
    import pytest

LESSON = ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions", grade="5")


def _timed_lesson(latency: str, answer_tokens: int | None = None) -> tuple[float, int]:
    """Seconds one lesson took through the SDK, and the output tokens its usage reported."""
    sized = (lambda _request: answer_tokens) if answer_tokens is not None else None
    with running_fake_anthropic(latency=ModelLatency.parse(latency), answer_tokens=sized) as fake:
        generator = AnthropicGenerator(
            api_key="sk-test-fake",
            model_for=lambda _kind: "claude-haiku-5-5",
            prices=default_prices(),
            base_url=fake.base_url,
            timeout_s=30.0,
        )
        began = time.perf_counter()
        generation = generator.generate(LESSON)
        return time.perf_counter() - began, generation.usage.output_tokens


def test_the_fake_waits_first_token_plus_the_answers_tokens_over_the_rate() -> None:
    # Given a model whose first token comes at once and that streams 5,000 tokens a second, answering 2,000 tokens
    took, tokens = _timed_lesson("ttft=0,rate=5000,jitter=0", answer_tokens=2_000)
    # Then the answer took 2,000 / 5,000 = 0.4 s at least (its usage says 2,000 tokens)
    assert tokens == 2_000
    assert 0.4 <= took < 5
    # And a first token of 0.6 s adds to that
    took, _ = _timed_lesson("ttft=0.6,rate=5000,jitter=0", answer_tokens=2_000)
    assert took >= 1.0


def test_an_instant_fake_answers_without_the_wait() -> None:
    took, _ = _timed_lesson("instant", answer_tokens=100_000)  # realistic: minutes; instant: no wait at all
    assert took < 5


def test_the_fakes_own_work_is_inside_the_answer_time_not_on_top(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps(
        {"model": "claude-haiku-5-5", "max_tokens": 500, "messages": [{"role": "user", "content": "A lesson"}]}
    ).encode()
    headers = {"x-api-key": "sk-test-fake"}
    with running_fake_anthropic(latency=ModelLatency.parse("fixed:0.25")) as fake:
        fake.script([fake_anthropic.Reply.json({"title": "Fractions"})] * 2)
        slept: list[float] = []
        monkeypatch.setattr(fake_anthropic.time, "sleep", slept.append)
        # Given a request that came in 0.1 s ago (its reading and parsing took that long)
        status, _, _ = fake.handle("/v1/messages", headers, body, received=time.perf_counter() - 0.1)
        # Then the fake waits only what is left of the model's 0.25 s, so the answer takes 0.25 s, not 0.35
        assert status == 200
        assert 0.05 < slept[0] <= 0.15
        # And a request whose handling already outlasted the model's time is answered at once
        fake.handle("/v1/messages", headers, body, received=time.perf_counter() - 1.0)
        assert slept[1] == 0.0
