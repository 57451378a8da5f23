"""The course alignment judgement (issue 29): when a course is assembled, does each assessment question examine the
objective it names? One small-tier call per assessment, cached, charged with the course (the rules, the schema and
the offline judge are in ``pregen.domain.courses``).

::

    assembly ─▶ COURSE_ALIGNMENT_JUDGE off ─▶ objectives_aligned: not judged (off by setting)
        │ on: every assessment, side by side
        ▼
    alignment#<hash(questions as judged, objectives)> cached? ── yes ─▶ its verdicts, no call (figures: reused)
        │ no
        ▼
    judge_alignment (question_set.judgement tier, schema-checked) ─▶ cached with the content TTL; its cost to the
        day's counters and the course's figures (kind ``judgement``)
    any assessment's judgement failed (refusal, error, an answer still invalid) ─▶ not judged, with the reason
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.domain.counters import Metric, name
from pregen.domain.courses import (
    JUDGEMENT,
    AlignmentAnswer,
    PartKind,
    PartStatus,
    aligned_check,
    alignment_key,
    judged_questions,
    not_judged,
    read_alignment,
)
from pregen.domain.records import StoredContent
from pregen.observability import logger
from pregen.parallel import each
from pregen.services.failures import describe
from pregen.services.generation import generation_meta
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from pregen.domain.courses import CourseCheck, CourseRecord, PartRecord
    from pregen.domain.models import Generation
    from pregen.ports import AlignmentJudge
    from pregen.services.generation import WorkerDeps

SETTING_OFF = "off by setting (COURSE_ALIGNMENT_JUDGE)"


@dataclass(frozen=True)
class Alignment:
    """The course's ``objectives_aligned`` check, and the figures of every judgement it used (for its figures)."""

    check: CourseCheck
    judgements: list[dict[str, Any]]


@dataclass(frozen=True)
class _Judged:
    part_id: str
    questions: list[dict[str, Any]]
    answer: AlignmentAnswer | None
    figures: dict[str, Any] | None = None  # None: nothing spent (an empty assessment)
    error: str | None = None


def judge_course(
    course: CourseRecord, parts: list[PartRecord], deps: WorkerDeps, judge: AlignmentJudge | None, *, enabled: bool
) -> Alignment | None:
    """Judge every done assessment of the course (None: the course has no assessments), with the content worker's
    store, counters and clock. ``enabled``: COURSE_ALIGNMENT_JUDGE. A failed judgement never fails the course: the
    check is then "not judged", with the reason."""
    if not course.request.include.assessments:
        return None
    if not enabled:
        return Alignment(not_judged(SETTING_OFF), [])
    if judge is None:
        return Alignment(not_judged("this deployment's generator has no judge"), [])
    assessments = [p for p in parts if p.kind is PartKind.ASSESSMENT and p.status is PartStatus.DONE]
    results = each(lambda part: _judge(part, judge, deps), assessments)
    judgements = [r.figures for r in results if r.figures is not None]
    failed = [r for r in results if r.error is not None]
    if failed:
        return Alignment(not_judged(f"{failed[0].part_id}: {failed[0].error}"), judgements)
    answered = {r.part_id: (r.questions, r.answer) for r in results if r.answer is not None}
    return Alignment(aligned_check(answered), judgements)


def _judge(part: PartRecord, judge: AlignmentJudge, deps: WorkerDeps) -> _Judged:
    """One assessment: its cached judgement, else one call to the judge (cached and counted)."""
    questions = judged_questions(part.body or {})
    if not questions:
        return _Judged(part.part_id, questions, AlignmentAnswer(questions=[]))
    objectives = [str(objective) for objective in part.request.get("objectives") or []]
    key = alignment_key(questions, objectives)
    now = deps.clock.now()
    cached = deps.store.get_content(key, now)
    if cached is not None:
        try:
            answer = read_alignment(cached.body, len(questions))
        except ValueError:
            logger.warning("cached alignment judgement unreadable: judged again", key=key, part_id=part.part_id)
        else:
            return _Judged(part.part_id, questions, answer, {**cached.meta, "reused": True})
    try:
        generation = judge.judge_alignment(questions, objectives)
        answer = read_alignment(generation.body, len(questions))
    except Exception as exc:
        spent = float(getattr(exc, "spent_usd", 0.0) or 0.0)
        logger.warning("course alignment judgement failed", part_id=part.part_id, reason=describe(exc), spent=spent)
        if spent:
            _count(deps, {name(Metric.COST_USD, JUDGEMENT): spent})
        figures = {"cost_usd": spent, "failed": True} if spent else None
        return _Judged(part.part_id, questions, None, figures, error=describe(exc)[:300])
    meta = generation_meta(generation)
    deps.store.put_content(
        StoredContent(
            key=key,
            kind=JUDGEMENT,
            body=answer.model_dump(mode="json"),
            meta=meta,
            owner=None,
            created_at=now,
            expires_at=now + deps.policy.content_ttl_days * 86_400,
        )
    )
    _count(deps, _spent(generation))
    return _Judged(part.part_id, questions, answer, {**meta, "reused": False})


def _spent(generation: Generation) -> dict[str, int | float]:
    return {
        name(Metric.COST_USD, JUDGEMENT): generation.cost_usd,
        name(Metric.TOKENS_IN, JUDGEMENT): generation.usage.input_tokens,
        name(Metric.TOKENS_OUT, JUDGEMENT): generation.usage.output_tokens,
        name(Metric.COST_USD_MODEL, generation.model): generation.cost_usd,
    }


def _count(deps: WorkerDeps, counts: dict[str, int | float]) -> None:
    """The judgement's spend in the day's counters (the daily ceiling and analytics read them)."""
    now = deps.clock.now()
    deps.counters.add(day_of(now), counts, now)
