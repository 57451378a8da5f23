"""What a request will cost before it is enqueued: its estimated output tokens at its model's price, in microdollars.

Allowances, the daily ceiling and the answers' ``RateLimit-*`` headers share this one unit, which follows the bill:
a dollar of the model provider's price list, counted in millionths (integers, so counters add exactly). An estimate
uses the *typical* answer of a kind (a lesson about 1,800 output tokens, about 160 a question or drill item), not
its ``max_tokens``: a re-ask costs more than the estimate, a cached prompt less, and the accounting of what was
really spent (``cost_usd`` in the counters) stays the figure of record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pregen.domain.counters import Metric
from pregen.domain.models import Kind, TokenUsage

if TYPE_CHECKING:
    from pregen.domain.courses import CourseRequest
    from pregen.domain.models import ContentRequest
    from pregen.domain.pricing import PriceTable

MICRO = 1_000_000  # microdollars in a dollar

# Typical output tokens of an answer of each kind that has no count; counted kinds add TOKENS_PER_ITEM per item.
TYPICAL_OUTPUT_TOKENS: dict[Kind, int] = {
    Kind.LESSON: 1_800,
    Kind.CULTURAL_CONTENT: 1_500,
    Kind.BRAIN_BYTES: 120,  # per card: a brain-bytes set counts cards
}
TOKENS_PER_ITEM = 160  # a question with its options and explanation, a drill item, a conversation turn
DEFAULT_ITEMS = 5  # a counted kind asked for without a count (the generators' own default is smaller)
# Every call sends the prompt (uncached) and reads the shared handbook from the prompt cache.
PROMPT_TOKENS = 700
CACHED_PROMPT_TOKENS = 3_600
COURSE_PLAN_OUTPUT_TOKENS = 3_000

ModelFor = Callable[[Kind, str | None], str]
# The steps MODEL_TIERS can name besides a kind ("lesson.plan", "exam.sections"): what the planner and the exam's
# section writer are called with, and what they are priced with here.
PLAN_STEP = "plan"
SECTIONS_STEP = "sections"
# The course alignment judgement ("question_set.judgement"): the small tier unless MODEL_TIERS names that step.
JUDGEMENT_STEP = "judgement"
JUDGEMENT_TOKENS_PER_QUESTION = 45  # a verdict: the question's number, aligned, a one-sentence reason


def output_tokens(request: ContentRequest) -> int:
    """The typical output tokens of one generation of ``request``."""
    if request.kind in TYPICAL_OUTPUT_TOKENS and request.kind is not Kind.BRAIN_BYTES:
        return TYPICAL_OUTPUT_TOKENS[request.kind]
    per_item = TYPICAL_OUTPUT_TOKENS.get(request.kind, TOKENS_PER_ITEM)
    return per_item * (request.count or DEFAULT_ITEMS)


@dataclass(frozen=True)
class Estimator:
    """Prices requests with the deployment's price table and model choice (which model a kind and step use)."""

    prices: PriceTable
    model_for: ModelFor

    def call(
        self, model: str, tokens_out: int, tokens_in: int = PROMPT_TOKENS, cached_in: int = CACHED_PROMPT_TOKENS
    ) -> int:
        """Microdollars of one call producing ``tokens_out`` on ``model`` (rounded up: a charge is never 0)."""
        usage = TokenUsage(input_tokens=tokens_in, output_tokens=tokens_out, cache_read_input_tokens=cached_in)
        return max(1, -int(-self.prices.cost(model, usage) * MICRO // 1))

    def content(self, request: ContentRequest) -> int:
        return self.call(self.model_for(request.kind, None), output_tokens(request))

    def contents(self, requests: list[ContentRequest]) -> int:
        return sum(self.content(r) for r in requests)

    def exam(self, questions: int, sections: int = 1) -> int:
        """An exam of ``questions`` questions, written in ``sections`` calls on the exam's model: each call sends
        the prompt again, so each section is priced as a call of its own (one call would under-price an exam by
        6-13 %, which let a learner's claims cost more than their allowance: ``bench spend_floors``)."""
        model = self.model_for(Kind.EXAM, SECTIONS_STEP)
        sections = max(1, min(sections, questions))
        sizes = [questions // sections + (1 if i < questions % sections else 0) for i in range(sections)]
        return sum(self.call(model, TOKENS_PER_ITEM * size) for size in sizes)

    def judgement(self, questions: int) -> int:
        """One course alignment judgement of an assessment: the questions read (as input, without the cached
        handbook: a judge is not sent it) and a verdict each."""
        return self.call(
            self.model_for(Kind.QUESTION_SET, JUDGEMENT_STEP),
            JUDGEMENT_TOKENS_PER_QUESTION * questions,
            PROMPT_TOKENS + TOKENS_PER_ITEM * questions,
            cached_in=0,
        )

    def course(self, request: CourseRequest, *, judged: bool = False) -> int:
        """A whole course before it is planned: the plan, then every part the plan can have (an upper bound of
        the parts: shared lessons another course already made cost nothing when the course runs), and with
        ``judged`` the alignment judgement of each assessment (a cached one costs nothing when the course runs)."""
        lessons = request.modules * request.lessons_per_module
        lesson = self.call(self.model_for(Kind.LESSON, None), TYPICAL_OUTPUT_TOKENS[Kind.LESSON])
        total = self.call(self.model_for(Kind.LESSON, PLAN_STEP), COURSE_PLAN_OUTPUT_TOKENS) + lessons * lesson
        if request.include.brain_bytes:
            cards = TYPICAL_OUTPUT_TOKENS[Kind.BRAIN_BYTES] * DEFAULT_ITEMS
            total += lessons * self.call(self.model_for(Kind.BRAIN_BYTES, None), cards)
        if request.include.assessments:
            questions = max(request.lessons_per_module * 3, 5)  # about three objectives a lesson
            total += request.modules * self.call(self.model_for(Kind.QUESTION_SET, None), TOKENS_PER_ITEM * questions)
            if judged:
                total += request.modules * self.judgement(questions)
        return total


def dollars(microdollars: int) -> str:
    """A charge or an allowance as people read it: ``$0.0123``."""
    return f"${microdollars / MICRO:,.4f}"


def spent_usd(day_counts: dict[str, float]) -> float:
    """Dollars the model cost in a day, from the day's counters item: every kind's ``cost_usd`` (failed attempts
    included), as the worker records them."""
    prefix = f"{Metric.COST_USD.value}#"
    return sum(value for counter, value in day_counts.items() if counter.startswith(prefix))
