"""The worker's time budget, derived in one place from the largest unit of work the worker may start.

A unit of work is one queue message's work in one delivery: its model calls (the first and the re-asks the code
allows), each as long as its ``max_tokens`` on its tier takes (``pregen.domain.model_time``, the worst case), plus
the reads and writes around them. Every timeout below follows from the largest such unit::

    largest unit (a 30-question exam section on the large tier: 16k tokens ≈ 268 s a call, 3 calls ≈ 805 s)
      + SETTLE_SECONDS                                   ─▶ WORKER_TIMEOUT_S  900  (Lambda's maximum)
    one call's worst case (kind=exam: 32k tokens ≈ 535 s) x 1.5, below the worker timeout
                                                         ─▶ SDK_TIMEOUT_S     810  (the Anthropic client's timeout=)
    WORKER_TIMEOUT_S + 30 (a lease outlives the invocation that holds it)
                                                         ─▶ LEASE_SECONDS     930
    6 x WORKER_TIMEOUT_S (AWS's rule for an SQS event source)
                                                         ─▶ VISIBILITY_TIMEOUT_S 5400

The worker's timeout was raised from 300 s to 900 s for this: at the large tier's ~60 output tokens a second, one
question set re-asked twice (6k tokens x 3) needs ~305 s and one exam section ~805 s with its re-asks; 300 s held
neither. A ``kind=exam`` content request (225 questions, 32k tokens, ~535 s a call) fits one call in an invocation
but not its re-asks: the lifecycle lets it make only the calls that fit (``Estimate.adjustable``), so its re-asks
are spent on later deliveries. Generating it in sections, like the inventory's exams, is not built yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from pregen.domain.model_time import expected_seconds
from pregen.domain.models import Kind

# The most output tokens one call may produce, per kind (the Anthropic adapter sends these as ``max_tokens``).
MAX_TOKENS: Final = {
    Kind.LESSON: 4_000,
    Kind.QUESTION_SET: 6_000,
    Kind.EXAM: 32_000,
    Kind.VOCABULARY_DRILL: 6_000,
    Kind.GRAMMAR_EXERCISE: 6_000,
    Kind.CULTURAL_CONTENT: 4_000,
    Kind.PRONUNCIATION_DRILL: 6_000,
    Kind.CONVERSATION_PRACTICE: 6_000,
    Kind.PERSONALIZED_EXERCISE: 6_000,
    Kind.BRAIN_BYTES: 2_000,
}
# One exam section (at most 30 questions, about a seventh of a practice exam's output).
SECTION_MAX_TOKENS: Final = 16_000
# A course's outline (the planner, small tier).
PLAN_MAX_TOKENS: Final = 8_000
# Calls one delivery may make (the first and its re-asks): the generator's MAX_GENERATION_ATTEMPTS default.
CALLS_PER_DELIVERY: Final = 3
# Reads and writes around the model calls (lease, store, counters, the next messages), and an erasure pass.
SETTLE_SECONDS: Final = 30.0
# The model the figures assume for the worst case: the large tier.
WORST_MODEL: Final = "large-tier"

WORKER_TIMEOUT_S: Final = 900
SDK_TIMEOUT_S: Final = 810
LEASE_SECONDS: Final = WORKER_TIMEOUT_S + 30
VISIBILITY_TIMEOUT_S: Final = 6 * WORKER_TIMEOUT_S


@dataclass(frozen=True)
class Estimate:
    """How long one unit of work may take: ``calls`` model calls of ``call_s`` each (the worst case), plus settling.

    ``adjustable``: the unit can be told to make fewer calls than ``calls`` (a content job's ``max_calls``); it may
    then start when one call fits, and makes only the calls that fit."""

    call_s: float = 0.0
    calls: int = 0
    adjustable: bool = False
    # The model its calls go to and one call's ``max_tokens``: what the provider's token budget reserves.
    model: str = ""
    max_tokens: int = 0

    @classmethod
    def of(cls, model: str, max_tokens: int, calls: int = CALLS_PER_DELIVERY, *, adjustable: bool = False) -> Estimate:
        call_s = expected_seconds(model, max_tokens)
        return cls(call_s=call_s, calls=calls, adjustable=adjustable, model=model, max_tokens=max_tokens)

    @property
    def worst_s(self) -> float:
        """All its calls and the settling."""
        return self.call_s * self.calls + SETTLE_SECONDS

    @property
    def least_s(self) -> float:
        """The least time it may start with: all of it, or one call for an adjustable unit."""
        return (self.call_s * min(1, self.calls) if self.adjustable else self.call_s * self.calls) + SETTLE_SECONDS

    def calls_within(self, seconds: float) -> int:
        """The calls that fit in ``seconds`` (at most ``calls``)."""
        if self.call_s <= 0:
            return self.calls
        return max(0, min(self.calls, math.floor((seconds - SETTLE_SECONDS) / self.call_s)))


def largest_units() -> dict[str, Estimate]:
    """The worst case of each unit the worker may start, on the large tier (the slower one): what the budget is
    derived from and what tests hold the template to."""
    units = {f"content_job:{kind.value}": Estimate.of(WORST_MODEL, tokens) for kind, tokens in MAX_TOKENS.items()}
    units[f"content_job:{Kind.EXAM.value}"] = Estimate.of(WORST_MODEL, MAX_TOKENS[Kind.EXAM], adjustable=True)
    units["exam_section"] = Estimate.of(WORST_MODEL, SECTION_MAX_TOKENS)
    units["course_plan"] = Estimate.of(WORST_MODEL, PLAN_MAX_TOKENS)
    units["learner_erase"] = Estimate()
    return units
