"""The spend check: the one check every path that can make the model work makes before it enqueues anything.

Call it AFTER the cache read (a hit never pays for the limiter) and before anything is enqueued, with the price of
what will be generated (``pregen.domain.spend``: estimated output tokens at the model's price, in microdollars)::

    check_generation_allowance(caller, "miss", deps, lambda price: price.content(request))
    check_generation_allowance(caller, "pregenerate", deps, lambda price: price.contents(misses))

``deps`` is anything with ``limiter`` (a Limiter, or None for no limits) and ``clock``: ServeDeps is one. A request
that costs more than a whole window allows raises ``OverAllowance`` (422: waiting never helps); over what is left of
a window it raises ``RateLimited`` (429 with ``Retry-After``: the window's end). A charge that passes is remembered
for the answer's ``RateLimit-*`` headers (``last_charge``).

A learner's miss folds its charge into the key's claim (``fold_charge`` before it, ``settle_folded`` after: one
write claims the key, records the job and counts the charge). That write returns no counts when it passes, so the
headers' remaining allowance is then what this environment knows of the window (the counts it last read, plus what it
charged since): exact when the learner's earlier charges in the window went through this environment, otherwise an
upper bound (``GenerationLimiter.seen``). A refusal returns the counts as they stood: exact.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pregen import telemetry
from pregen.domain.errors import OverAllowance, RateLimited, SpendCeilingReached
from pregen.domain.limits import WINDOW_SECONDS, Charge, Consumed
from pregen.domain.spend import MICRO, dollars, spent_usd
from pregen.observability import logger
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.limits import RateLimits
    from pregen.domain.models import Caller
    from pregen.domain.spend import Estimator
    from pregen.ports import Clock, Counters, RateCounter

_DAY = 86_400


@dataclass
class SpendCeiling:
    """The operator's daily ceiling on model spend, against what the worker recorded today (the counters' day item,
    read at most once per ``cache_s`` per environment: the ceiling may be passed by the work already admitted in that
    time, a bounded overshoot, instead of a read on every request)."""

    dollars_a_day: float
    counters: Counters
    cache_s: float = 30.0
    _seen: tuple[str, float, float] | None = None  # (day, dollars spent, read at)

    def spent(self, now: float) -> float:
        day = day_of(now)
        if self._seen is None or self._seen[0] != day or now - self._seen[2] >= self.cache_s:
            found = self.counters.read_days([day]).get(day, {})
            self._seen = (day, spent_usd(found), now)
        return self._seen[1]


# Learners' windows an environment remembers the counts of (``GenerationLimiter.seen``); past it, it forgets them all.
_SEEN_MAX = 10_000


@dataclass
class GenerationLimiter:
    counter: RateCounter
    limits: RateLimits
    estimator: Estimator
    ceiling: SpendCeiling | None = None
    # (subject, "<window>#<start>") -> the window's count as this environment last knew it (read, or charged since)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def remember(self, subject: str, windows: list[tuple[str, int, int]], used: dict[str, int], now: float) -> None:
        if len(self.seen) >= _SEEN_MAX:
            self.seen.clear()
        for name, seconds, _ in windows:
            self.seen[(subject, _slot(name, seconds, now))] = used.get(name, 0)

    def known(self, subject: str, windows: list[tuple[str, int, int]], now: float) -> dict[str, int]:
        return {name: self.seen.get((subject, _slot(name, seconds, now)), 0) for name, seconds, _ in windows}


def _slot(name: str, seconds: int, now: float) -> str:
    return f"{name}#{int(now) // seconds * seconds}"


class LimitedDeps(Protocol):
    """The limiter's view of a use case's deps (ServeDeps, ExamDeps, CourseDeps): not a port, no adapter
    implements it, so it lives beside the one function that reads it."""

    @property
    def limiter(self) -> GenerationLimiter | None: ...

    @property
    def clock(self) -> Clock: ...


def check_daily_ceiling(action: str, deps: LimitedDeps, price: Callable[[Estimator], int]) -> None:
    """Refuse new work once today's spend (with this work's price) passes the daily ceiling: 503 with Retry-After
    at the next UTC day. Every path that can make the model work passes here, charged to a caller or not."""
    limiter = deps.limiter
    if limiter is None or limiter.ceiling is None:
        return
    now = deps.clock.now()
    ceiling = limiter.ceiling
    spent = ceiling.spent(now)
    if spent * MICRO + price(limiter.estimator) <= ceiling.dollars_a_day * MICRO:
        return
    telemetry.emit("SpendCeilingReached", 1)  # alarmed (SpendCeilingAlarm)
    logger.warning("daily spend ceiling reached", action=action, spent_usd=spent, ceiling_usd=ceiling.dollars_a_day)
    raise SpendCeilingReached(
        ceiling_usd=ceiling.dollars_a_day,
        spent_usd=spent,
        retry_after=_DAY - int(now) % _DAY,
        action=action,
    )


@dataclass(frozen=True)
class Allowance:
    """What is left of the caller's tightest window after a charge: the answer's ``RateLimit-*`` headers."""

    window: str
    window_s: int
    limit: int  # microdollars the window allows
    remaining: int  # microdollars left in it
    reset_s: int  # seconds until it starts again
    charged: int  # microdollars this request was charged


_last: ContextVar[Allowance | None] = ContextVar("pregen_last_charge", default=None)


def last_charge() -> Allowance | None:
    """The charge this request made (``None``: none), for the HTTP layer's headers."""
    return _last.get()


def forget_charge() -> None:
    _last.set(None)


def _reset(now: float, seconds: int) -> int:
    return int(now) // seconds * seconds + seconds - int(now)


def check_generation_allowance(
    caller: Caller, action: str, deps: LimitedDeps, price: Callable[[Estimator], int]
) -> None:
    """Charge the caller the price of the work about to be enqueued, or refuse it (nothing counted)."""
    charge = fold_charge(caller, action, deps, price)
    if charge is None or deps.limiter is None:
        return
    now = deps.clock.now()
    consumed = deps.limiter.counter.consume(charge.subject, charge.windows, charge.cost, now)
    settle(charge, caller, action, deps, consumed, now=now)


def fold_charge(caller: Caller, action: str, deps: LimitedDeps, price: Callable[[Estimator], int]) -> Charge | None:
    """The charge to count (None: no limiter, or nothing to pay), after the checks that write nothing: the daily
    ceiling (503) and a price past a whole window (422), raised as ``check_generation_allowance`` raises them."""
    limiter = deps.limiter
    if limiter is None:
        return None
    cost = price(limiter.estimator)
    if cost <= 0:
        return None
    check_daily_ceiling(action, deps, lambda _: cost)
    windows = limiter.limits.for_role(caller.role).windows()
    never = next(((name, seconds, allowed) for name, seconds, allowed in windows if cost > allowed), None)
    if never is not None:
        name, seconds, allowed = never
        logger.info("over allowance", sub=caller.sub, role=caller.role.value, limit=name, action=action, cost=cost)
        raise OverAllowance(
            f"this request would cost about {dollars(cost)}, more than the {caller.role.value} role's whole "
            f"{name} allowance ({dollars(allowed)}): ask for less at once (fewer items, modules or questions)",
            limit=f"{caller.role.value}.{name}",
            cost=cost,
            allowed=allowed,
            window_seconds=seconds,
            action=action,
        )
    return Charge(subject=caller.sub, windows=windows, cost=cost)


def settle_folded(charge: Charge, caller: Caller, action: str, deps: LimitedDeps, refused: Consumed | None) -> None:
    """After a claim that carried ``charge``: remember it for the headers (``refused`` None: it was counted, the
    counts are what this environment knew plus the charge), or raise the refusal (the counts as they stood)."""
    limiter = deps.limiter
    if limiter is None:
        return
    now = deps.clock.now()
    if refused is None:
        known = limiter.known(charge.subject, charge.windows, now)
        refused = Consumed(refused=None, used={name: n + charge.cost for name, n in known.items()})
    settle(charge, caller, action, deps, refused, now=now)


def settle(charge: Charge, caller: Caller, action: str, deps: LimitedDeps, consumed: Consumed, *, now: float) -> None:
    """Remember a counted charge for the answer's headers, or raise its refusal."""
    limiter = deps.limiter
    windows, cost = charge.windows, charge.cost
    if limiter is not None and consumed.used:
        limiter.remember(charge.subject, windows, consumed.used, now)
    if consumed.refused is None:
        tightest = min(windows, key=lambda w: w[2] - consumed.used.get(w[0], cost), default=None)
        if tightest is not None:
            name, seconds, allowed = tightest
            remaining = max(0, allowed - consumed.used.get(name, cost))
            _last.set(Allowance(name, seconds, allowed, remaining, _reset(now, seconds), cost))
        return
    seconds = WINDOW_SECONDS[consumed.refused]
    allowed = next(a for name, _, a in windows if name == consumed.refused)
    retry_after = _reset(now, seconds)
    logger.info(
        "rate limited", sub=caller.sub, role=caller.role.value, limit=consumed.refused, action=action, cost=cost
    )
    raise RateLimited(
        f"{caller.role.value}.{consumed.refused}",
        allowed=allowed,
        window_seconds=seconds,
        retry_after=retry_after,
        action=action,
        cost=cost,
        remaining=max(0, allowed - consumed.used.get(consumed.refused, 0)),
    )
