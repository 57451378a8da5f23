"""How long the model takes: time to first token plus output tokens over the tier's output rate.

One source for every place that needs model time: the worker's budget (may a unit of work start in the time its
invocation has left?), the template's timeouts (derived from the largest unit of work), and the fakes that stand
in for the model (the offline generator and the fake Messages API sleep what this says).

The default figures are the order of magnitude the provider's model pages and public measurements give for the
tiers in use (late 2026): the large tier (Sonnet-class) answers its first token after about 1 to 2 s and streams about
50 to 80 output tokens a second; the small tier (Haiku-class) after about 0.5 to 1 s and 100 to 150 tokens a second. The
figures below sit in the middle of those ranges. They change with every model release and with load, so a run
overrides them (``MODEL_LATENCY``, parsed by ``ModelLatency.parse``) rather than trusting them as constants.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

Tier = Literal["large", "small"]


@dataclass(frozen=True)
class TierTiming:
    """One tier's speed: seconds to the first token and output tokens per second once it streams."""

    first_token_s: float
    tokens_per_s: float

    def seconds(self, output_tokens: int) -> float:
        return self.first_token_s + max(0, output_tokens) / self.tokens_per_s


DEFAULT_TIMING: dict[Tier, TierTiming] = {
    "large": TierTiming(first_token_s=1.5, tokens_per_s=60.0),
    "small": TierTiming(first_token_s=0.7, tokens_per_s=140.0),
}
# How far one call strays from the tier's figures (both ways), as a fraction: calls are not all alike.
DEFAULT_JITTER = 0.2


def tier_of(model: str) -> Tier:
    """The tier of a model name: Haiku-class models (and the offline generator's small stand-ins) are small."""
    return "small" if "haiku" in model.lower() else "large"


def expected_seconds(model: str, output_tokens: int, timing: dict[Tier, TierTiming] | None = None) -> float:
    """The time a call producing ``output_tokens`` takes on ``model``'s tier, without jitter (a budget's figure:
    pass ``max_tokens`` for the worst case)."""
    return (timing or DEFAULT_TIMING)[tier_of(model)].seconds(output_tokens)


def jittered(seconds: float, seed: str, jitter: float = DEFAULT_JITTER) -> float:
    """``seconds`` moved by up to ±``jitter`` of itself, the same for the same seed (a request's key): fakes stay
    deterministic while calls differ from each other."""
    unit = int.from_bytes(hashlib.blake2b(seed.encode(), digest_size=8).digest(), "big") / 2**64
    return seconds * (1.0 + jitter * (2.0 * unit - 1.0))


def estimate_tokens(text: str) -> int:
    """About 4 characters a token: what the fakes report as usage, and the output length their wait is sized by."""
    return max(1, len(text) // 4) if text else 0


@dataclass(frozen=True)
class ModelLatency:
    """How long each model call takes in this run (the ``MODEL_LATENCY`` setting, see ``parse``): per-tier timing
    with jitter, or one fixed time per call (``fixed_s``; 0: instant)."""

    spec: str = "realistic"
    timing: dict[Tier, TierTiming] = field(default_factory=lambda: dict(DEFAULT_TIMING))
    jitter: float = DEFAULT_JITTER
    fixed_s: float | None = None

    @classmethod
    def parse(cls, spec: str) -> ModelLatency:
        """``realistic`` (the tiers' default figures, with jitter); ``instant`` (no wait); ``scale:F`` (the defaults
        F times as long: ``scale:0.1`` is ten times faster); ``fixed:S`` (S seconds a call, whatever the tier and the
        length: what the older benchmarks ran at); or ``key=value`` pairs over the defaults, comma-separated:
        ``ttft`` (seconds to first token) and ``rate`` (output tokens a second) for both tiers, ``large.ttft``,
        ``small.rate``, ... for one, and ``jitter`` (a fraction). Raises ValueError saying what is wrong."""
        text = spec.strip().lower()
        if text in {"", "realistic"}:
            return cls(spec="realistic")
        if text == "instant":
            return cls(spec="instant", fixed_s=0.0)
        name, colon, value = text.partition(":")
        if colon and name in {"scale", "fixed"}:
            number = _number(spec, value, name)
            if name == "fixed":
                return cls(spec=text, fixed_s=number)
            if number == 0:
                return cls(spec=text, fixed_s=0.0)
            scaled = {
                tier: TierTiming(t.first_token_s * number, t.tokens_per_s / number)
                for tier, t in DEFAULT_TIMING.items()
            }
            return cls(spec=text, timing=scaled)
        if "=" not in text:
            raise ValueError(
                f"MODEL_LATENCY={spec!r}: expected realistic, instant, scale:F, fixed:S or ttft=S,rate=R[,jitter=J]"
            )
        return cls._from_pairs(spec, text)

    @classmethod
    def _from_pairs(cls, spec: str, text: str) -> ModelLatency:
        first = {tier: t.first_token_s for tier, t in DEFAULT_TIMING.items()}
        rate = {tier: t.tokens_per_s for tier, t in DEFAULT_TIMING.items()}
        jitter = DEFAULT_JITTER
        for pair in filter(None, (p.strip() for p in text.split(","))):
            key, _, value = pair.partition("=")
            tier_name, dot, what = key.strip().rpartition(".")
            tiers: tuple[Tier, ...] = ("large", "small")
            if dot:
                if tier_name not in tiers:
                    raise ValueError(f"MODEL_LATENCY={spec!r}: unknown tier {tier_name!r} (large or small)")
                tiers = ("large",) if tier_name == "large" else ("small",)
            number = _number(spec, value, key, 1_000_000.0 if what == "rate" else 600.0)
            if what == "jitter" and not dot:
                if number > 1:
                    raise ValueError(f"MODEL_LATENCY={spec!r}: jitter is a fraction between 0 and 1")
                jitter = number
            elif what in {"ttft", "rate"}:
                if what == "rate" and number == 0:
                    raise ValueError(f"MODEL_LATENCY={spec!r}: rate must be above 0 tokens a second")
                for tier in tiers:
                    (first if what == "ttft" else rate)[tier] = number
            else:
                raise ValueError(f"MODEL_LATENCY={spec!r}: unknown key {key!r} (ttft, rate, jitter)")
        timing = {tier: TierTiming(first[tier], rate[tier]) for tier in first}
        return cls(spec=text, timing=timing, jitter=jitter)

    @property
    def instant(self) -> bool:
        return self.fixed_s == 0

    def seconds(self, model: str, output_tokens: int, seed: str) -> float:
        """How long one call producing ``output_tokens`` on ``model`` takes in this run; the same for the same seed
        (a request's identity), so fakes stay deterministic."""
        if self.fixed_s is not None:
            return self.fixed_s
        return jittered(expected_seconds(model, output_tokens, self.timing), seed, self.jitter)

    def remaining(self, model: str, output_tokens: int, seed: str, elapsed_s: float) -> float:
        """What is left to wait of the call's time (``seconds``) once ``elapsed_s`` went on producing the answer:
        a fake's own work is part of the answer time, not added to it, so a 250 ms call answers in 250 ms."""
        return max(0.0, self.seconds(model, output_tokens, seed) - max(0.0, elapsed_s))

    def describe(self) -> str:
        """One line for a banner or a benchmark's record: the spec and, for tiers, their figures."""
        if self.fixed_s is not None:
            return "instant (no wait)" if self.instant else f"{self.spec} ({self.fixed_s:g} s a call)"
        tiers = "; ".join(
            f"{tier}: {t.first_token_s:g} s to first token, {t.tokens_per_s:g} tokens/s"
            for tier, t in self.timing.items()
        )
        return f"{self.spec} ({tiers}; ±{self.jitter:.0%} jitter)"


INSTANT = ModelLatency(spec="instant", fixed_s=0.0)


def _number(spec: str, value: str, name: str, most: float = 600.0) -> float:
    """``value`` as a number from 0 to ``most`` (seconds: 600, a call no model answer outlasts)."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"MODEL_LATENCY={spec!r}: {name} needs a number, not {value.strip()!r}") from None
    if not 0 <= number <= most:  # NaN fails this too
        raise ValueError(f"MODEL_LATENCY={spec!r}: {name} must be between 0 and {most:g}")
    return number
