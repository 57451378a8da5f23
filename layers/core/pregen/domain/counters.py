"""Counter names: the attributes of the day items (``day#YYYY-MM-DD``) that work adds to and analytics reads.

A name is ``<metric>#<dimension>``: a metric (a family of counters) and one of its dimensions (a content kind, an
exam type, a model, a generator, a failure reason). The builders below are the only writers of these names and
``parse`` (with ``latency_bound`` and ``on_expiry_day``) their only reader, so writer and reader cannot drift.
The names are stored data: a member's value never changes.
"""

from __future__ import annotations

from enum import StrEnum

ALL = "all"  # the dimension of a name written without one
EXAM = "exam"  # the kind under which exam sections count their cost and tokens (as content items of kind exam do)
CLAIMED_EXAMS = "claimed_exam"  # the dimension of ``used`` for a learner's pre-generated exam, used by its claim


class Metric(StrEnum):
    # Serving (dimension: content kind)
    HITS = "hits"  # cache hits served (from the stats stream)
    MISSES = "misses"  # misses that enqueued or joined a job
    USED = "used"  # items used for the first time (first hit, or an exam claimed)
    COST_SAVED_USD = "cost_saved_usd"  # what the hits would have cost to generate again
    ALIAS_HITS = "alias_hits"  # hits served through a verified alias (also counted in hits, on the target)
    # Near-duplicates (issue 33; dimension: content kind)
    JUDGED = "judged"  # judgements made (a pair judged once, then cached)
    JUDGE_COST_USD = "judge_cost_usd"  # what the judgements cost (charged to the jobs that asked)
    ALIASED = "aliased"  # jobs settled by a verified alias, without a generation
    # Generation (dimension: content kind unless said otherwise)
    GENERATED = "generated"
    GENERATED_BY = "generated_by"  # dimension: generator
    GENERATED_MODEL = "generated_model"  # dimension: model
    COST_USD = "cost_usd"
    COST_USD_MODEL = "cost_usd_model"  # dimension: model
    WASTED_COST_USD = "wasted_cost_usd"  # spent on generations that were not stored
    TOKENS_IN = "tokens_in"
    TOKENS_OUT = "tokens_out"
    TOKENS_CACHE_WRITE = "tokens_cache_write"
    TOKENS_CACHE_READ = "tokens_cache_read"
    TOKENS_MODEL = "tokens_model"  # dimension: model
    LATENCY_MS_SUM = "latency_ms_sum"
    THROTTLED = "throttled"
    FAILED = "failed"  # dimension: the failure's reason (an error class, or exam_section#<error class> ...)
    EXPIRING = "expiring"  # on the day item of the expiry date
    # Message Batches (dimension: content kind)
    BATCH_SUBMITTED = "batch_submitted"
    BATCH_SUCCEEDED = "batch_succeeded"
    BATCH_FALLBACK = "batch_fallback"
    BATCH_SAVED_USD = "batch_saved_usd"  # what a batch result's billed usage would cost direct, less its batch price
    # Exams (dimension: exam type)
    CLAIMED = "claimed"
    EXAM_GENERATED = "exam_generated"
    EXAMS_ASSEMBLED = "exams_assembled"
    EXAM_SECTIONS_GENERATED = "exam_sections_generated"  # no dimension
    # Courses (no dimension)
    COURSES_STARTED = "courses_started"
    COURSES_READY = "courses_ready"
    COURSES_FAILED = "courses_failed"
    COURSE_READY_MS_SUM = "course_ready_ms_sum"
    # On the day item of an expiry, dimension: the hour "HH" (pregen.domain.exam_stats)
    EXAM_EXPIRING = "exam_expiring"  # ready exams by the whole hour they expire unclaimed
    LEARNERS_READY_UNTIL = "learners_ready_until"  # learners by the hour their last ready exam expires


def name(metric: Metric, *dimension: str) -> str:
    """``metric#dimension`` (parts of a dimension joined by ``#``); the bare metric without one."""
    return "#".join([metric.value, *dimension])


def parse(counter: str) -> tuple[str, str]:
    """``metric#dimension`` → (metric, dimension); a name without a dimension has ``all``."""
    metric, _, dimension = counter.partition("#")
    return metric, dimension or ALL


# The latency histogram: one metric per bucket, ``latency_le_<upper bound ms or inf>#<kind>``.
_LATENCY_LE = "latency_le_"


def latency_le(bound: str, kind: str) -> str:
    return f"{_LATENCY_LE}{bound}#{kind}"


def latency_bound(metric: str) -> str | None:
    """The bucket's upper bound when ``metric`` is one of the latency histogram's, else None."""
    return metric.removeprefix(_LATENCY_LE) if metric.startswith(_LATENCY_LE) else None


# Time from a course's request to ready: a histogram like latency's, ``course_ready_le_<upper bound ms or inf>#all``.
_COURSE_READY_LE = "course_ready_le_"


def course_ready_le(bound: str) -> str:
    return f"{_COURSE_READY_LE}{bound}#{ALL}"


def course_ready_bound(metric: str) -> str | None:
    """The bucket's upper bound when ``metric`` is one of the time-to-ready histogram's, else None."""
    return metric.removeprefix(_COURSE_READY_LE) if metric.startswith(_COURSE_READY_LE) else None


# Expiries by hour (UTC) of the expiry date: ``expiring_hHH#all``.
_EXPIRING_HOUR = "expiring_h"


def expiring_hour(hour: int) -> str:
    return f"{_EXPIRING_HOUR}{hour:02d}#{ALL}"


_ON_EXPIRY_DAY = {Metric.EXPIRING, Metric.EXAM_EXPIRING, Metric.LEARNERS_READY_UNTIL}


def on_expiry_day(counter: str) -> bool:
    """Counted on the day an item expires, not the day the work happened: analytics keeps them out of windows."""
    return parse(counter)[0] in _ON_EXPIRY_DAY or counter.startswith(_EXPIRING_HOUR)
