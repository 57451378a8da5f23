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

A background course (``batched``): the cached judgements as above; every other assessment becomes a
``JudgementMessage`` for a Message Batch (half price) and the course is ready with the check "judging"
(``pregen.services.course_generation.settle_alignment`` stores it once the last result is in)::

    batch result valid ─▶ keep_batched: cached and counted as the direct path's (billed at the batch price)
    failed or invalid ─▶ the message again, direct ─▶ judge_directly: one direct judgement (or not judged)
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    judging,
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
    """The course's ``objectives_aligned`` check, and the figures of every judgement it used (for its figures).
    A background course's judgements still to make are ``pending`` (the check is then "judging"), and the ones
    already made are in ``judged`` (kept with the course until the last pending one is in)."""

    check: CourseCheck
    judgements: list[dict[str, Any]]
    pending: list[tuple[str, list[dict[str, Any]], list[str]]] = field(default_factory=list)
    judged: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Judged:
    """One assessment's judgement: its verdicts (``answer``), or the reason it failed (``error``)."""

    part_id: str
    questions: list[dict[str, Any]]
    answer: AlignmentAnswer | None
    figures: dict[str, Any] | None = None  # None: nothing spent (an empty assessment)
    error: str | None = None

    def record(self) -> dict[str, Any]:
        """As kept with a background course until its last judgement is in (``from_record`` reads it back)."""
        answer = self.answer.model_dump(mode="json") if self.answer is not None else None
        return {"questions": self.questions, "answer": answer, "figures": self.figures, "error": self.error}

    @classmethod
    def from_record(cls, part_id: str, record: dict[str, Any]) -> Judged:
        answer = record.get("answer")
        return cls(
            part_id,
            list(record.get("questions") or []),
            AlignmentAnswer.model_validate(answer) if answer is not None else None,
            record.get("figures"),
            record.get("error"),
        )


def judge_course(
    course: CourseRecord,
    parts: list[PartRecord],
    deps: WorkerDeps,
    judge: AlignmentJudge | None,
    *,
    enabled: bool,
    batched: bool = False,
) -> Alignment | None:
    """Judge every done assessment of the course (None: the course has no assessments), with the content worker's
    store, counters and clock. ``enabled``: COURSE_ALIGNMENT_JUDGE. A failed judgement never fails the course: the
    check is then "not judged", with the reason. ``batched`` (a background course with Message Batches): only the
    cached judgements are used; the others are left ``pending`` for a batch."""
    if not course.request.include.assessments:
        return None
    if not enabled:
        return Alignment(not_judged(SETTING_OFF), [])
    if judge is None:
        return Alignment(not_judged("this deployment's generator has no judge"), [])
    assessments = [p for p in parts if p.kind is PartKind.ASSESSMENT and p.status is PartStatus.DONE]
    if batched:
        return _batched(assessments, deps)
    return alignment_of(each(lambda part: judge_one(part.part_id, *_material(part), judge, deps), assessments))


def alignment_of(results: list[Judged]) -> Alignment:
    """The check from every assessment's judgement: not judged when any failed."""
    judgements = [r.figures for r in results if r.figures is not None]
    failed = [r for r in results if r.error is not None]
    if failed:
        return Alignment(not_judged(f"{failed[0].part_id}: {failed[0].error}"), judgements)
    answered = {r.part_id: (r.questions, r.answer) for r in results if r.answer is not None}
    return Alignment(aligned_check(answered), judgements)


def _material(part: PartRecord) -> tuple[list[dict[str, Any]], list[str]]:
    """What the judge reads of one assessment, and the objectives it is judged against."""
    return judged_questions(part.body or {}), [str(o) for o in part.request.get("objectives") or []]


def _batched(assessments: list[PartRecord], deps: WorkerDeps) -> Alignment:
    """A background course's judgements: those cached (or of an empty assessment) now, the others pending."""
    judged: list[Judged] = []
    pending: list[tuple[str, list[dict[str, Any]], list[str]]] = []
    for part in assessments:
        questions, objectives = _material(part)
        found = _known(part.part_id, questions, objectives, deps)
        if found is None:
            pending.append((part.part_id, questions, objectives))
        else:
            judged.append(found)
    if not pending:
        return alignment_of(judged)
    return Alignment(
        judging(len(pending), len(assessments)),
        [r.figures for r in judged if r.figures is not None],
        pending,
        {r.part_id: r.record() for r in judged},
    )


def _known(part_id: str, questions: list[dict[str, Any]], objectives: list[str], deps: WorkerDeps) -> Judged | None:
    """The judgement needing no call: of an empty assessment, or cached (None: it must be asked)."""
    if not questions:
        return Judged(part_id, questions, AlignmentAnswer(questions=[]))
    key = alignment_key(questions, objectives)
    cached = deps.store.get_content(key, deps.clock.now())
    if cached is None:
        return None
    try:
        answer = read_alignment(cached.body, len(questions))
    except ValueError:
        logger.warning("cached alignment judgement unreadable: judged again", key=key, part_id=part_id)
        return None
    return Judged(part_id, questions, answer, {**cached.meta, "reused": True})


def judge_one(
    part_id: str, questions: list[dict[str, Any]], objectives: list[str], judge: AlignmentJudge, deps: WorkerDeps
) -> Judged:
    """One assessment: its cached judgement, else one direct call to the judge (cached and counted)."""
    known = _known(part_id, questions, objectives, deps)
    if known is not None:
        return known
    try:
        generation = judge.judge_alignment(questions, objectives)
        answer = read_alignment(generation.body, len(questions))
    except Exception as exc:
        spent = float(getattr(exc, "spent_usd", 0.0) or 0.0)
        logger.warning("course alignment judgement failed", part_id=part_id, reason=describe(exc), spent=spent)
        if spent:
            _count(deps, {name(Metric.COST_USD, JUDGEMENT): spent})
        figures = {"cost_usd": spent, "failed": True} if spent else None
        return Judged(part_id, questions, None, figures, error=describe(exc)[:300])
    return keep(part_id, questions, objectives, generation, answer=answer, deps=deps)


def keep_batched(
    part_id: str, questions: list[dict[str, Any]], objectives: list[str], generation: Generation, deps: WorkerDeps
) -> Judged | None:
    """A Message Batch's judgement (checked by the adapter with the judgement's own validation), kept as a direct
    one is; None when it still does not judge each question exactly once (it falls back to a direct call)."""
    try:
        answer = read_alignment(generation.body, len(questions))
    except ValueError:
        return None
    return keep(part_id, questions, objectives, generation, answer=answer, deps=deps)


def keep(
    part_id: str,
    questions: list[dict[str, Any]],
    objectives: list[str],
    generation: Generation,
    *,
    answer: AlignmentAnswer,
    deps: WorkerDeps,
) -> Judged:
    """A judgement made: cached with the content TTL (a course reusing the assessment makes no call) and its cost
    in the day's counters."""
    now = deps.clock.now()
    meta = generation_meta(generation)
    deps.store.put_content(
        StoredContent(
            key=alignment_key(questions, objectives),
            kind=JUDGEMENT,
            body=answer.model_dump(mode="json"),
            meta=meta,
            owner=None,
            created_at=now,
            expires_at=now + deps.policy.content_ttl_days * 86_400,
        )
    )
    _count(deps, _spent(generation))
    return Judged(part_id, questions, answer, {**meta, "reused": False})


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
