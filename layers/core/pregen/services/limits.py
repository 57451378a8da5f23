"""The generation allowance: the one check every generation-triggering request makes before it enqueues work.

Call it AFTER the cache read (a hit never pays for the limiter) and before anything is enqueued::

    check_generation_allowance(caller, "miss", deps)             # one request that will generate
    check_generation_allowance(caller, "pregenerate", deps, cost=n)  # n keys that will generate

``deps`` is anything with ``limiter`` (a GenerationLimiter, or None for no limits) and ``clock``: ServeDeps is one.
Over an allowance it raises ``RateLimited`` (429 with ``Retry-After`` and the limit's name, mapped in pregen.http.api).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pregen.domain.errors import RateLimited
from pregen.domain.limits import WINDOW_SECONDS
from pregen.observability import logger

if TYPE_CHECKING:
    from pregen.domain.limits import RateLimits
    from pregen.domain.models import Caller
    from pregen.ports import Clock, RateCounter


@dataclass
class GenerationLimiter:
    counter: RateCounter
    limits: RateLimits


class LimitedDeps(Protocol):
    """The limiter's view of a use case's deps (ServeDeps, ExamDeps, CourseDeps): not a port, no adapter
    implements it, so it lives beside the one function that reads it."""

    @property
    def limiter(self) -> GenerationLimiter | None: ...

    @property
    def clock(self) -> Clock: ...


def check_generation_allowance(caller: Caller, action: str, deps: LimitedDeps, *, cost: int = 1) -> None:
    """Count ``cost`` generations against the caller's allowances, or raise RateLimited (nothing counted)."""
    limiter = deps.limiter
    if limiter is None or cost <= 0:
        return
    windows = limiter.limits.for_role(caller.role).windows()
    now = deps.clock.now()
    exceeded = limiter.counter.consume(caller.sub, windows, cost, now)
    if exceeded is None:
        return
    seconds = WINDOW_SECONDS[exceeded]
    allowed = next(a for name, _, a in windows if name == exceeded)
    retry_after = int(now) // seconds * seconds + seconds - int(now)
    logger.info("rate limited", sub=caller.sub, role=caller.role.value, limit=exceeded, action=action, cost=cost)
    raise RateLimited(
        f"{caller.role.value}.{exceeded}",
        allowed=allowed,
        window_seconds=seconds,
        retry_after=retry_after,
        action=action,
    )
