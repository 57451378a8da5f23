"""A failed delivery in the worker, of any kind (the lifecycle classifies it once): the reason, whether it is
final, the backoff, the counters.

::

    error ──▶ permanent (refusal, 4xx, a spent call cap) or the last delivery (receive count ≥ max)? ── yes ──▶
                  │ no                                                         fail for good, count failed#<reason>
                  ▼
              retry after its backoff (``retry_delay``: 10/40/160 s ± 20 %, at least the provider's retry-after)
    either way: what the provider billed for it counts as cost and as wasted cost
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.domain.counters import Metric, name
from pregen.domain.errors import ContentInvalid, GenerationFailed, PregenError, ProviderThrottled, SpendingError
from pregen.observability import logger
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.ports import Counters


def describe(exc: Exception) -> str:
    """The reason a job or slot shows: the error's message, with the first validation errors."""
    if isinstance(exc, ContentInvalid):
        return f"{exc}: {'; '.join(exc.errors[:5])}"
    if isinstance(exc, PregenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class Described(PregenError):
    """A failure its work has described itself (a spent call cap, an invalid stored request, a provider still
    throttling after its delayed retries): the reason it shows, its counter's category, whether it is permanent,
    and the error that caused it (None: none), whose spend and retry-after still count."""

    def __init__(self, reason: str, *, category: str, permanent: bool, cause: Exception | None = None) -> None:
        super().__init__(reason)
        self.reason, self.category, self.permanent, self.cause = reason, category, permanent, cause


class RecordedBefore(GenerationFailed):
    """The work failed for good on an earlier delivery and its record says why: nothing more to write."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)


@dataclass(frozen=True)
class Failure:
    """Why one delivery failed, and whether the work fails for good now."""

    reason: str
    category: str  # the ``failed#`` counter's dimension
    permanent: bool  # no retry can fix it (a refusal, a 4xx from the provider)
    final: bool  # permanent, or the last delivery before the dead-letter queue
    retry_after: float | None = None  # the provider's, when it said (a throttle): the backoff is at least this

    @classmethod
    def of(cls, exc: Exception, *, receive_count: int, max_receive_count: int) -> Failure:
        cause = exc.cause if isinstance(exc, Described) else exc
        retry_after = cause.retry_after if isinstance(cause, ProviderThrottled) else None
        if isinstance(exc, Described):
            reason, category, permanent = exc.reason, exc.category, exc.permanent
        else:
            reason, category, permanent = describe(exc), type(exc).__name__, is_permanent(exc)
        return cls(
            reason=reason,
            category=category,
            permanent=permanent,
            final=permanent or receive_count >= max_receive_count,
            retry_after=retry_after,
        )


def is_permanent(exc: Exception) -> bool:
    """No retry can fix it: a refusal, a 4xx from the provider, answers still invalid after the generator's re-asks
    (not asked again on another delivery, issue 16), or a failure its work described as permanent."""
    if isinstance(exc, Described):
        return exc.permanent
    return (isinstance(exc, GenerationFailed) and not exc.retryable) or isinstance(exc, ContentInvalid)


def retry_delay(receive_count: int, base_s: int, retry_after: float | None, rng: random.Random | None = None) -> int:
    """Exponential backoff with jitter: base x 4^(n-1) (10 s, 40 s, 160 s, ...) ± 20 %, at least the provider's
    retry-after, at most 12 h (SQS's visibility limit)."""
    exact = base_s * 4 ** max(0, receive_count - 1)
    jittered = exact * (rng or random).uniform(0.8, 1.2)
    return int(min(43_200, max(jittered, retry_after or 0)))


def settle_failure(
    failure: Failure,
    event: str,
    *,
    counters: Counters,
    now: float,
    failed_counter: str,
    fail_for_good: Callable[[], None],
    retry_later: Callable[[], None] | None = None,
    **context: Any,
) -> None:
    """Log the failure (``event``, with ``context`` as keys); on a final one fail the work for good and count it,
    otherwise let it wait for the next delivery."""
    logger.warning(event, reason=failure.reason, final=failure.final, **context)
    if failure.final:
        fail_for_good()
        counters.add(day_of(now), {failed_counter: 1}, now)
    elif retry_later is not None:
        retry_later()


def count_spend(counters: Counters, exc: Exception, kind: str, now: float) -> None:
    """A failed generation may still have been billed: count it as cost, and as wasted cost (a described failure:
    its cause's)."""
    if isinstance(exc, Described):
        exc = exc.cause or exc
    if isinstance(exc, SpendingError) and exc.spent_usd:
        count_wasted(counters, exc.spent_usd, kind, now)


def count_wasted(counters: Counters, spent_usd: float, kind: str, now: float) -> None:
    """Money spent on a generation that is not stored (failed, or superseded by another)."""
    counters.add(
        day_of(now), {name(Metric.COST_USD, kind): spent_usd, name(Metric.WASTED_COST_USD, kind): spent_usd}, now
    )
