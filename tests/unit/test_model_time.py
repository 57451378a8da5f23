"""Model time: first token plus output tokens over the tier's rate, jitter deterministic per seed."""

from __future__ import annotations

import pytest

from pregen.domain.model_time import (
    DEFAULT_TIMING,
    ModelLatency,
    TierTiming,
    estimate_tokens,
    expected_seconds,
    jittered,
    tier_of,
)


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


@pytest.mark.parametrize(
    ("spec", "model", "tokens", "seconds"),
    [
        ("instant", "claude-sonnet-5-5", 16_000, 0.0),
        ("fixed:2", "claude-haiku-5-5", 10, 2.0),
        ("fixed:0.25", "claude-sonnet-5-5", 16_000, 0.25),
        ("scale:0", "claude-sonnet-5-5", 16_000, 0.0),
        ("ttft=1,rate=100,jitter=0", "claude-sonnet-5-5", 500, 6.0),
        ("ttft=1,rate=100,jitter=0", "claude-haiku-5-5", 500, 6.0),
        ("large.ttft=3,small.rate=1000,jitter=0", "claude-sonnet-5-5", 600, 3.0 + 600 / 60.0),
        ("large.ttft=3,small.rate=1000,jitter=0", "claude-haiku-5-5", 600, 0.7 + 600 / 1000),
    ],
)
def test_model_latency_specs_give_the_time_they_say(spec: str, model: str, tokens: int, seconds: float) -> None:
    assert ModelLatency.parse(spec).seconds(model, tokens, "seed") == pytest.approx(seconds)


def test_realistic_is_the_tiers_defaults_with_jitter_and_scale_shrinks_every_part() -> None:
    realistic = ModelLatency.parse("realistic")
    assert ModelLatency.parse("") == realistic
    expected = expected_seconds("claude-sonnet-5-5", 1_000)
    values = {realistic.seconds("claude-sonnet-5-5", 1_000, f"job-{i}") for i in range(50)}
    assert all(expected * 0.8 <= v <= expected * 1.2 for v in values) and len(values) > 40
    # The same request waits the same each time (fakes stay deterministic)
    assert realistic.seconds("claude-sonnet-5-5", 1_000, "job-1") == realistic.seconds(
        "claude-sonnet-5-5", 1_000, "job-1"
    )
    tenth = ModelLatency.parse("scale:0.1")
    assert tenth.seconds("claude-sonnet-5-5", 1_000, "job-1") == pytest.approx(
        realistic.seconds("claude-sonnet-5-5", 1_000, "job-1") / 10
    )
    assert "large: 1.5 s to first token, 60 tokens/s" in realistic.describe()
    assert ModelLatency.parse("instant").instant and not realistic.instant


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("slow", "expected realistic, instant"),
        ("scale:fast", "scale needs a number"),
        ("fixed:-1", "between 0 and 600"),
        ("fixed:nan", "between 0 and 600"),
        ("ttft=1,speed=3", "unknown key 'speed'"),
        ("medium.ttft=1", "unknown tier 'medium'"),
        ("rate=0", "rate must be above 0"),
        ("jitter=2", "jitter is a fraction"),
    ],
)
def test_a_bad_model_latency_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelLatency.parse(spec)


def test_the_worker_reads_model_latency_and_refuses_a_bad_one() -> None:
    from pregen.config.base import SettingsError
    from pregen.config.worker import ModelLatencySettings, WorkerSettings

    assert issubclass(WorkerSettings, ModelLatencySettings)
    assert ModelLatencySettings.from_env({}).model_latency.instant  # unset: instant (a deployed stack without a key)
    assert ModelLatencySettings.from_env({"MODEL_LATENCY": "scale:0.5"}).model_latency == ModelLatency.parse(
        "scale:0.5"
    )
    with pytest.raises(SettingsError, match="MODEL_LATENCY"):
        ModelLatencySettings.from_env({"MODEL_LATENCY": "sometimes"})


def test_the_wait_left_is_the_calls_time_less_what_the_answer_already_took() -> None:
    latency = ModelLatency.parse("fixed:0.25")
    assert latency.remaining("claude-haiku-5-5", 100, "seed", 0.1) == pytest.approx(0.15)
    # An answer that took longer than the call's time is not held back, and a clock that went back waits it all
    assert latency.remaining("claude-haiku-5-5", 100, "seed", 0.4) == 0.0
    assert latency.remaining("claude-haiku-5-5", 100, "seed", -1.0) == pytest.approx(0.25)
    # On the tiers, the same seed's time, less what went by
    tiers = ModelLatency.parse("ttft=0.5,rate=100")
    full = tiers.seconds("claude-sonnet-5-5", 200, "s")
    assert tiers.remaining("claude-sonnet-5-5", 200, "s", 0.3) == pytest.approx(full - 0.3)


def test_the_offline_generator_waits_for_its_answers_length_on_its_tier(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from pregen.adapters.generators import offline
    from pregen.domain.models import ContentRequest, Kind

    slept: list[float] = []
    monkeypatch.setattr(offline.time, "sleep", slept.append)
    # Given a clock on which building each answer takes 0.2 s (the generator reads it as it starts and as it waits)
    ticks = iter(100.0 + 0.2 * i for i in range(100))
    monkeypatch.setattr(offline.time, "perf_counter", lambda: next(ticks))
    latency = ModelLatency.parse("ttft=0.5,rate=100,jitter=0")
    models = {Kind.LESSON: "claude-haiku-5-5", Kind.EXAM: "claude-sonnet-5-5"}
    generator = offline.OfflineGenerator(latency=latency, model_for=models.__getitem__)
    lesson = generator.generate(ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions", grade="5"))
    exam = generator.generate(ContentRequest(kind=Kind.EXAM, subject="Chemistry", exam_type="diagnostic", count=30))
    # Then each call took first token + its own answer's tokens over the rate, the 0.2 s of building it included
    # (it slept the rest): the exam, longer, waits longer
    assert slept == [
        pytest.approx(0.5 + estimate_tokens(json.dumps(lesson.body)) / 100 - 0.2),
        pytest.approx(0.5 + estimate_tokens(json.dumps(exam.body)) / 100 - 0.2),
    ]
    assert slept[1] > slept[0]
    # And an instant generator does not sleep at all
    offline.OfflineGenerator().generate(ContentRequest(kind=Kind.LESSON, subject="Maths", topic="Fractions"))
    assert len(slept) == 2


def test_make_runs_stack_has_the_realistic_model_unless_the_run_names_another(monkeypatch: pytest.MonkeyPatch) -> None:
    from pregen_tools.local_stack import banner, local_environment, model_latency

    monkeypatch.delenv("MODEL_LATENCY")
    assert local_environment({})["MODEL_LATENCY"] == "realistic"
    monkeypatch.setenv("MODEL_LATENCY", "scale:0.1")
    assert local_environment({})["MODEL_LATENCY"] == "scale:0.1"
    # And the banner says the latency in force
    monkeypatch.setenv("MODEL_LATENCY", "realistic")
    state = {
        "url": "http://127.0.0.1:3000",
        "generator": "offline",
        "runtime": "process",
        "dynamodb": "moto",
        "dynamodb_endpoint": "http://127.0.0.1:1",
        "aws_endpoint": "http://127.0.0.1:1",
        "model_latency": model_latency(),
    }
    assert "model latency: realistic (large: 1.5 s to first token, 60 tokens/s" in banner(state)
