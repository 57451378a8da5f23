"""The model provider's rate limits, as the worker models them (issue 32): a tier per model, the provider's own
figures read from its answers, and the AIMD controller that sizes the shared budget between them.

The provider (Anthropic) limits each model by output tokens, input tokens and requests per minute. Output tokens are
counted from ``max_tokens`` when a request starts and corrected to the tokens produced when it ends; the bucket
refills continuously. Every answer carries ``anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,
remaining,reset}``; a 429 carries ``retry-after``.

The controller (one per model and worker environment)::

    size  = fraction of the configured tier the budget may use, in [FLOOR, ceiling]
    ceiling = 1, or the provider's ``-limit`` header / the configured figure when the provider says less
    a Messages answer that is not a 429     ─▶ size += INCREASE           (additive increase, back to the tier)
    a 429 (at most once per DECREASE_GAP_S) ─▶ size  = max(FLOOR, size x DECREASE)   (multiplicative decrease)
                                               and nothing starts on that model before its retry-after
    ``-remaining`` below one call's need     ─▶ nothing starts on that model before ``-reset``

With INCREASE = 1 % a call, a halved budget is whole again after 50 answers (well under a minute at any tier that
does real work); a burst of 429s from calls already in flight costs one decrease, not one per 429.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

WINDOW_S: Final = 60  # the provider's limits are per minute; the shared budget keeps one item per model and minute
INCREASE: Final = 0.01  # additive increase per successful answer, as a fraction of the configured tier
DECREASE: Final = 0.7  # multiplicative decrease on a 429
FLOOR: Final = 0.1  # never below a tenth of the tier: the budget still admits work that the provider's reset frees
DECREASE_GAP_S: Final = 2.0  # 429s within this long of a decrease are the same congestion: one decrease


@dataclass(frozen=True)
class Spend:
    """Output tokens, input tokens and requests: what a tier allows per minute, what a call reserves or used."""

    output_tokens: int = 0
    input_tokens: int = 0
    requests: int = 0

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.output_tokens + other.output_tokens,
            self.input_tokens + other.input_tokens,
            self.requests + other.requests,
        )

    def __sub__(self, other: Spend) -> Spend:
        return Spend(
            self.output_tokens - other.output_tokens,
            self.input_tokens - other.input_tokens,
            self.requests - other.requests,
        )

    def scaled(self, factor: float) -> Spend:
        return Spend(int(self.output_tokens * factor), int(self.input_tokens * factor), int(self.requests * factor))

    def fits_in(self, room: Spend) -> bool:
        return (
            self.output_tokens <= room.output_tokens
            and self.input_tokens <= room.input_tokens
            and self.requests <= room.requests
        )


# Anthropic's published Tier 4 figures per minute (docs.anthropic.com, "Rate limits"): Sonnet-class models
# 400k output / 2M input tokens and 4,000 requests; Haiku-class 800k output / 4M input tokens and 4,000 requests.
TIER_4_LARGE: Final = Spend(output_tokens=400_000, input_tokens=2_000_000, requests=4_000)
TIER_4_SMALL: Final = Spend(output_tokens=800_000, input_tokens=4_000_000, requests=4_000)


@dataclass(frozen=True)
class ProviderAnswer:
    """What one Messages answer says about the limits (the generator's middleware reads it)."""

    model: str
    status: int
    usage: Spend = field(default_factory=Spend)  # the tokens it used and one request (zero for an error)
    retry_after_s: float | None = None
    limit: Spend | None = None  # the ``-limit`` headers, when all three are present
    remaining: Spend | None = None  # the ``-remaining`` headers, when all three are present
    reset_at: float | None = None  # the latest ``-reset`` (epoch seconds)

    @property
    def throttled(self) -> bool:
        return self.status == 429


_KINDS = (("output_tokens", "output-tokens"), ("input_tokens", "input-tokens"), ("requests", "requests"))


def _spend(headers: Mapping[str, str], suffix: str) -> Spend | None:
    try:
        values = {name: int(headers[f"anthropic-ratelimit-{wire}-{suffix}"]) for name, wire in _KINDS}
    except (KeyError, ValueError):
        return None
    return Spend(**values)


def _epoch(text: str) -> float | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def read_answer(model: str, status: int, headers: Mapping[str, str], usage: Spend) -> ProviderAnswer:
    """The rate-limit figures of one answer's headers (lower-case names)."""
    retry_after: float | None = None
    try:
        retry_after = float(headers["retry-after"]) if "retry-after" in headers else None
    except ValueError:
        retry_after = None
    names = [f"anthropic-ratelimit-{wire}-reset" for _, wire in _KINDS]
    resets = [_epoch(headers[name]) for name in names if name in headers]
    known = [r for r in resets if r is not None]
    return ProviderAnswer(
        model=model,
        status=status,
        usage=usage,
        retry_after_s=retry_after,
        limit=_spend(headers, "limit"),
        remaining=_spend(headers, "remaining"),
        reset_at=max(known) if known else None,
    )


@dataclass
class Controller:
    """One model's AIMD controller (see the module's doc): what share of the configured tier the budget uses now,
    and until when the provider asked for nothing new."""

    tier: Spend
    size: float = 1.0
    ceiling: float = 1.0
    hold_until: float = 0.0
    decreased_at: float = float("-inf")
    remaining: Spend | None = None
    provider_limit: Spend | None = None
    reset_at: float = 0.0
    throttled: int = field(default=0)
    answers: int = field(default=0)

    def allowed(self) -> Spend:
        """What the budget may hand out this minute: the tier scaled by the controller's size."""
        return self.tier.scaled(min(self.size, self.ceiling))

    def observe(self, answer: ProviderAnswer, now: float) -> None:
        self.answers += 1
        if answer.limit is not None and answer.limit.output_tokens > 0:
            self.provider_limit = answer.limit
            # The provider's own figure is the truth: a configured tier above it is capped to it.
            self.ceiling = min(1.0, answer.limit.output_tokens / max(1, self.tier.output_tokens))
        if answer.throttled:
            self.throttled += 1
            self.hold_until = max(self.hold_until, now + (answer.retry_after_s or 1.0))
            if now - self.decreased_at >= DECREASE_GAP_S:
                self.size = max(FLOOR, self.size * DECREASE)
                self.decreased_at = now
            return
        if answer.status < 400:
            self.size = min(self.ceiling, self.size + INCREASE)
        if answer.remaining is not None and answer.reset_at is not None:
            self.remaining, self.reset_at = answer.remaining, answer.reset_at

    def wait_s(self, need: Spend, now: float) -> float:
        """How long before a call needing ``need`` may start, from what the provider said (0: now)."""
        wait = max(0.0, self.hold_until - now)
        if self.remaining is not None and now < self.reset_at and not need.fits_in(self.remaining):
            # The provider's bucket refills continuously: wait for the shortfall at its rate, at most until reset.
            limit = self.provider_limit or self.tier
            shortfall = need - self.remaining
            refill_s = (
                max(
                    shortfall.output_tokens / max(1, limit.output_tokens),
                    shortfall.input_tokens / max(1, limit.input_tokens),
                    shortfall.requests / max(1, limit.requests),
                )
                * WINDOW_S
            )
            wait = max(wait, min(self.reset_at - now, refill_s))
        return wait

    def started(self, need: Spend) -> None:
        """A call was admitted: what the provider last said was left shrinks by it until its next answer."""
        if self.remaining is not None:
            self.remaining = self.remaining - need
