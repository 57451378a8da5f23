"""How long the model takes: time to first token plus output tokens over the tier's output rate.

One source for every place that needs model time: the worker's budget (may a unit of work start in the time its
invocation has left?), the template's timeouts (derived from the largest unit of work), and the fakes that stand
in for the model (the offline generator and the fake Messages API sleep what this says).

The default figures are the order of magnitude the provider's model pages and public measurements give for the
tiers in use (late 2026): the large tier (Sonnet-class) answers its first token after about 1.5 s and streams about
60 output tokens a second; the small tier (Haiku-class) about 0.7 s and 140 tokens a second. They change with every
model release and with load, so a run overrides them (``MODEL_LATENCY``) rather than trusting them as constants.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
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
