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

    def parts(self) -> tuple[int, int, int]:
        return self.output_tokens, self.input_tokens, self.requests

    def scaled(self, factor: float) -> Spend:
        return Spend(int(self.output_tokens * factor), int(self.input_tokens * factor), int(self.requests * factor))

    def fits_in(self, room: Spend) -> bool:
        return (
            self.output_tokens <= room.output_tokens
            and self.input_tokens <= room.input_tokens
            and self.requests <= room.requests
        )


# A unit the budget refuses is handed back after the wait the bucket predicts, never sooner than this: a shorter
# delay would spend SQS receives re-asking a bucket that refills a tier's sixtieth a second.
MIN_WAIT_S: Final = 2
# The budget counts a call when it takes it, the provider when the request arrives, up to a few seconds later (the
# SDK, the network, a busy environment). From a full bucket the provider's refill in between is lost at its cap
# while the budget's is not, so the budget would be ahead by that much: it leaves this long of refill unclaimed.
SEND_LAG_S: Final = 2.0


@dataclass(frozen=True)
class Bucket:
    """The provider's bucket for one model, as the shared budget keeps it: for each limit (output tokens, input
    tokens, requests), the time at which its bucket would be full again (``full_at``, epoch seconds; the generic
    cell rate algorithm's "theoretical arrival time"). A bucket of ``capacity`` refills ``capacity`` a minute,
    continuously, as the provider's does; its level at ``now`` is ``capacity x (1 - max(0, full_at - now) / 60)``.
    One number per limit, so a reservation is one conditional write: no read, no clock shared between writers.

    Taking ``need`` with a lane's ``room`` (how much of the bucket the lane may empty: all of it for learners,
    less the interactive share for background work) fits when ``max(full_at, now) + need x 60 / capacity <=
    now + room x 60 / capacity``; it moves ``full_at`` on by ``need x 60 / capacity``. Giving back (a settle's
    unused reservation) moves it back, so the room is there at once, not at the next minute."""

    full_at: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def take(self, need: Spend, room: Spend, capacity: Spend, now: float) -> tuple[Bucket, float]:
        """The bucket after taking ``need`` and 0.0, or this bucket and the seconds until ``need`` would fit."""
        after, wait = [], 0.0
        limits = zip(self.full_at, need.parts(), room.parts(), capacity.parts(), strict=True)
        for full_at, want, allowed, size in limits:
            if size <= 0:
                after.append(full_at)
                continue
            moved = max(full_at, now) + want * WINDOW_S / size
            wait = max(wait, moved - (now + allowed * WINDOW_S / size))
            after.append(moved)
        if wait > 0:
            return self, wait
        return Bucket((after[0], after[1], after[2])), 0.0

    def given(self, delta: Spend, capacity: Spend) -> Bucket:
        """The bucket after ``delta`` comes back (a settle's unused reservation; negative: an overrun charged)."""
        moved = [full_at - step for full_at, step in zip(self.full_at, seconds_of(delta, capacity), strict=True)]
        return Bucket((moved[0], moved[1], moved[2]))

    def level(self, capacity: Spend, now: float) -> Spend:
        """What is left in each bucket at ``now`` (negative when a settle charged an overrun)."""
        left = [
            size - size * max(0.0, full_at - now) / WINDOW_S if size > 0 else 0
            for full_at, size in zip(self.full_at, capacity.parts(), strict=True)
        ]
        return Spend(round(left[0]), round(left[1]), round(left[2]))


def seconds_refilled(capacity: Spend, seconds: float) -> Spend:
    """What a bucket of ``capacity`` (a minute's refill) gains in ``seconds``."""
    return capacity.scaled(max(0.0, seconds) / WINDOW_S)


def seconds_of(delta: Spend, capacity: Spend) -> tuple[float, float, float]:
    """How far ``delta`` moves each bucket's ``full_at`` (the refill time of that many tokens and requests)."""
    return tuple(  # type: ignore[return-value]
        want * WINDOW_S / size if size > 0 else 0.0 for want, size in zip(delta.parts(), capacity.parts(), strict=True)
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
    remaining_at: float = 0.0  # when the provider said ``remaining``: its bucket has refilled since
    throttled: int = field(default=0)
    answers: int = field(default=0)

    def capacity(self) -> Spend:
        """The provider's bucket: the configured tier, capped by the provider's own ``-limit``."""
        return self.tier.scaled(self.ceiling)

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
            self.remaining, self.reset_at, self.remaining_at = answer.remaining, answer.reset_at, now

    def wait_s(self, need: Spend, now: float) -> float:
        """How long before a call needing ``need`` may start, from what the provider said (0: now)."""
        wait = max(0.0, self.hold_until - now)
        if self.remaining is not None and now < self.reset_at:
            # The provider's bucket refills continuously: what it said was left, plus its refill since it said so,
            # and the shortfall waited for at its rate, at most until its reset.
            limit = self.provider_limit or self.tier
            refilled = seconds_refilled(limit, now - self.remaining_at)
            left = Spend(
                *(
                    min(size, have + more)
                    for size, have, more in zip(limit.parts(), self.remaining.parts(), refilled.parts(), strict=True)
                )
            )
            if not need.fits_in(left):
                shortfall = need - left
                shorts = zip(shortfall.parts(), limit.parts(), strict=True)
                refill_s = max(short * WINDOW_S / max(1, size) for short, size in shorts)
                wait = max(wait, min(self.reset_at - now, refill_s))
        return wait

    def started(self, need: Spend) -> None:
        """A call was admitted: what the provider last said was left shrinks by it until its next answer."""
        if self.remaining is not None:
            self.remaining = self.remaining - need
