"""A failed delivery in the worker, content job or exam section alike: the reason, whether it is final, the counters.

::

    error ──▶ permanent (refusal, 4xx) or the last delivery (receive count ≥ max)? ── yes ──▶ fail for good, count
                  │ no                                                                   failed#<reason>
                  ▼
              retry later (SQS delivers it again)
    either way: what the provider billed for it counts as cost and as wasted cost
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.domain.counters import Metric, name
from pregen.domain.errors import ContentInvalid, GenerationFailed, PregenError, SpendingError
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


@dataclass(frozen=True)
class Failure:
    """Why one delivery failed, and whether the work fails for good now."""

    reason: str
    category: str  # the ``failed#`` counter's dimension
    permanent: bool  # no retry can fix it (a refusal, a 4xx from the provider)
    final: bool  # permanent, or the last delivery before the dead-letter queue

    @classmethod
    def of(cls, exc: Exception, *, receive_count: int, max_receive_count: int) -> Failure:
        # Answers still invalid after the generator's re-asks are not asked again on another delivery (issue 16).
        permanent = (isinstance(exc, GenerationFailed) and not exc.retryable) or isinstance(exc, ContentInvalid)
        return cls(
            reason=describe(exc),
            category=type(exc).__name__,
            permanent=permanent,
            final=permanent or receive_count >= max_receive_count,
        )


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
    """A failed generation may still have been billed: count it as cost, and as wasted cost."""
    if isinstance(exc, SpendingError) and exc.spent_usd:
        count_wasted(counters, exc.spent_usd, kind, now)


def count_wasted(counters: Counters, spent_usd: float, kind: str, now: float) -> None:
    """Money spent on a generation that is not stored (failed, or superseded by another)."""
    counters.add(
        day_of(now), {name(Metric.COST_USD, kind): spent_usd, name(Metric.WASTED_COST_USD, kind): spent_usd}, now
    )
