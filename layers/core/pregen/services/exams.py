"""Per-learner exam inventory: claim a ready exam atomically, see the inventory, read a claimed exam, and keep
each learner topped up to the target by generating exams in sections on the queue."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pregen.domain.attempts import grade
from pregen.domain.counters import CLAIMED_EXAMS, Metric, name
from pregen.domain.errors import Conflict, NotFound, OverAllowance, RateLimited
from pregen.domain.inventory import ExamSlot, ExamStatus
from pregen.domain.keys import new_job_id
from pregen.domain.models import Lane, Priority
from pregen.domain.programs import plan_sections
from pregen.messages import SectionMessage
from pregen.observability import logger
from pregen.services.activity import record_activity
from pregen.services.limits import check_generation_allowance

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pregen.config.functions import InventorySettings
    from pregen.domain.attempts import Attempt
    from pregen.domain.inventory import ExamRecord
    from pregen.domain.models import Caller
    from pregen.domain.programs import Catalogue, Program
    from pregen.domain.spend import Estimator
    from pregen.ports import ActivityIndex, Clock, Counters, ExamInventory, JobQueue
    from pregen.services.limits import GenerationLimiter

# Optimistic top-up retries: only concurrent top-ups of the *same* learner and exam type contend.
_TOPUP_ATTEMPTS = 5


@dataclass
class ExamDeps:
    inventory: ExamInventory
    activity: ActivityIndex
    queue: JobQueue
    clock: Clock
    catalogue: Catalogue
    policy: InventorySettings  # target per learner and type, expiries, the top-up's bounds
    counters: Counters  # analytics: claims (uses of pre-generated exams)
    limiter: GenerationLimiter | None = None  # a claim that finds nothing ready makes Pregen generate


@dataclass(frozen=True)
class Replenished:
    created: list[ExamSlot]
    ready: int
    generating: int
    promoted: ExamSlot | None = None
    generating_slots: list[ExamSlot] = field(default_factory=list)  # oldest first, the new ones last


@dataclass(frozen=True)
class Claimed:
    exam: ExamRecord
    replenished: Replenished | None


@dataclass(frozen=True)
class Waiting:
    """No ready exam: the one being generated for the caller (at high priority) and when to ask again."""

    slot: ExamSlot | None
    retry_after_seconds: int
    replenished: Replenished


@dataclass(frozen=True)
class InventoryView:
    exam_type: str
    target: int
    ready: list[ExamSlot]
    generating: list[ExamSlot]
    claimed: list[ExamSlot]
    failed: list[ExamSlot]


def _live(slots: list[ExamSlot], status: ExamStatus, now: float) -> list[ExamSlot]:
    return [s for s in slots if s.status is status and s.live(now)]


def section_messages(slot: ExamSlot, deps: ExamDeps, priority: int, correlation_id: str | None) -> list[SectionMessage]:
    program = deps.catalogue.programs[slot.program]
    return [
        SectionMessage(owner=slot.owner, spec=spec, priority=priority, correlation_id=correlation_id or slot.exam_id)
        for spec in plan_sections(program, slot.exam_type, slot.exam_id)
    ]


def _send_sections(slot: ExamSlot, deps: ExamDeps, priority: int, correlation_id: str | None) -> None:
    lane = Priority.lane(priority)
    try:
        for message in section_messages(slot, deps, priority, correlation_id):
            deps.queue.send(lane, message.wire())
    except Exception:
        # A slot whose sections were not all sent would never finish: fail it now so it stops counting
        # towards the target and the next top-up makes a new one.
        now = deps.clock.now()
        deps.inventory.fail_slot(
            slot.owner,
            slot.exam_type,
            slot.exam_id,
            reason="could not enqueue its sections",
            now=now,
            expires_at=now + deps.policy.exam_failed_ttl_hours * 3600,
        )
        raise


def exam_price(program: Program, exam_type: str, price: Estimator) -> int:
    """One exam of ``exam_type``: its questions in the sections the worker writes them in."""
    sections = len(plan_sections(program, exam_type, "planning"))
    return price.exam(program.exam_types[exam_type].questions, sections)


def _price_of_exams(count: int, program: Program, exam_type: str) -> Callable[[Estimator], int]:
    return lambda price: count * exam_price(program, exam_type, price)


def replenish(
    owner: str,
    exam_type: str,
    priority: int,
    deps: ExamDeps,
    *,
    correlation_id: str | None = None,
    at_least: int = 0,
    up_to: int | None = None,
    payer: Caller | None = None,
    action: str = "topup",
) -> Replenished:
    """Top the learner's inventory of ``exam_type`` up to the target: ready + generating exams count.

    ``at_least`` raises the target (a claim that found nothing makes one even with a target of 0); ``up_to``
    lowers it (the warm makes the first exam of each type in the interactive lane, the rest in the background).

    Idempotent: run twice in a row, the second run finds the gap filled by generating slots and enqueues
    nothing. Interactive callers with nothing ready also move the oldest background exam to the fast lane.

    ``payer`` is charged the exams about to be made, before any is written or enqueued (RateLimited or
    OverAllowance past their allowance: nothing made). Charged once, for the first gap found: a concurrent top-up
    that fills part of it makes the charge an over-estimate, never an under-estimate.
    """
    program = deps.catalogue.program_for(exam_type)
    lane = Priority.lane(priority)
    created: list[ExamSlot] = []
    ready: list[ExamSlot] = []
    generating: list[ExamSlot] = []
    for _ in range(_TOPUP_ATTEMPTS):
        version, slots = deps.inventory.list_slots(owner, exam_type)
        now = deps.clock.now()
        ready = _live(slots, ExamStatus.READY, now)
        generating = _live(slots, ExamStatus.GENERATING, now)
        target = max(deps.policy.inventory_target, at_least)
        gap = (target if up_to is None else min(target, up_to)) - len(ready) - len(generating)
        if gap <= 0:
            break
        if payer is not None:
            cost_of_gap = _price_of_exams(gap, program, exam_type)
            check_generation_allowance(payer, action, deps, cost_of_gap)
            payer = None
        sections = len(plan_sections(program, exam_type, "planning"))
        candidates = [
            ExamSlot(
                exam_id=new_job_id(),
                owner=owner,
                exam_type=exam_type,
                program=program.program,
                status=ExamStatus.GENERATING,
                lane=lane.value,
                sections_total=sections,
                sections_done=0,
                created_at=now,
                updated_at=now,
                expires_at=now + deps.policy.exam_generating_hold_hours * 3600,
            )
            for _ in range(gap)
        ]
        if deps.inventory.create_slots(owner, exam_type, version, candidates):
            created = candidates
            break
    else:
        logger.info("top-up lost to a concurrent top-up", owner=owner, exam_type=exam_type)
    for slot in created:
        _send_sections(slot, deps, priority, correlation_id)
    promoted = None
    if lane is Lane.INTERACTIVE and not ready and not created:
        promoted = _promote_oldest(generating, deps, priority, correlation_id)
    if created:
        logger.info("exams enqueued", owner=owner, exam_type=exam_type, count=len(created), lane=lane.value)
    return Replenished(
        created=created,
        ready=len(ready),
        generating=len(generating) + len(created),
        promoted=promoted,
        generating_slots=generating + created,
    )


@dataclass(frozen=True)
class Warmed:
    """One exam type after a warm: what the caller has and what the warm enqueued."""

    exam_type: str
    ready: int
    generating: int
    enqueued: int


def warm_inventory(
    caller: Caller, exam_types: list[str] | None, deps: ExamDeps, *, correlation_id: str | None = None
) -> list[Warmed]:
    """Start the caller's inventory of every exam type (or the ones named) now, not at the first claim.

    The app calls this when a learner opens their dashboard or the exam page. Idempotent: an inventory already at
    its target enqueues nothing and is not charged. Otherwise it is one generation-triggering request against the
    caller's allowance (429 past it, nothing enqueued), however many exam types it starts. The first exam of each
    type goes to the interactive lane (below a waiting claim's priority), so it is ready within a minute; the rest
    of the target is made in the background lane.
    """
    types = sorted(set(exam_types)) if exam_types else sorted(deps.catalogue.exam_types)
    for exam_type in types:
        deps.catalogue.program_for(exam_type)  # unknown exam type: 404 before any write
    now = deps.clock.now()
    record_activity(deps.activity, caller.sub, now, types)  # and from now on the cron keeps them topped up
    short = []
    gaps: dict[str, int] = {}
    for exam_type in types:
        _, slots = deps.inventory.list_slots(caller.sub, exam_type)
        live = len(_live(slots, ExamStatus.READY, now)) + len(_live(slots, ExamStatus.GENERATING, now))
        gaps[exam_type] = max(max(deps.policy.inventory_target, 1) - live, 0)
        if gaps[exam_type]:
            short.append(exam_type)
    if short:
        # Every exam this warm will make, at once: a refusal leaves nothing enqueued.
        check_generation_allowance(
            caller,
            "warm_exams",
            deps,
            lambda price: sum(gap * exam_price(deps.catalogue.program_for(t), t, price) for t, gap in gaps.items()),
        )
    warmed = []
    for exam_type in types:
        made: list[ExamSlot] = []
        if exam_type in short:
            made = replenish(
                caller.sub, exam_type, Priority.DEFAULT, deps, correlation_id=correlation_id, at_least=1, up_to=1
            ).created
        rest = replenish(caller.sub, exam_type, Priority.WARMING, deps, correlation_id=correlation_id)
        warmed.append(Warmed(exam_type, rest.ready, rest.generating, len(made) + len(rest.created)))
    return warmed


def _promote_oldest(
    generating: list[ExamSlot], deps: ExamDeps, priority: int, correlation_id: str | None
) -> ExamSlot | None:
    """A learner is waiting on an exam being made in the background lane: send its sections to the interactive
    lane too. Sections already stored are skipped by the worker, and a section is stored and counted once."""
    for slot in generating:
        if slot.lane == Lane.INTERACTIVE.value:
            return None
        if deps.inventory.promote_slot(slot.owner, slot.exam_type, slot.exam_id, Lane.INTERACTIVE):
            for message in section_messages(slot, deps, priority, correlation_id):
                deps.queue.send(Lane.INTERACTIVE, message.wire())
            return slot
    return None


def claim_exam(
    caller: Caller, exam_type: str, deps: ExamDeps, *, correlation_id: str | None = None
) -> Claimed | Waiting:
    """Hand the caller one of *their* ready exams, atomically (ready → claimed under a condition), then top up.

    Identity is the JWT's ``sub`` alone, and the inventory partition is the caller's, so nobody can claim
    another learner's exam. Concurrent claims race on the conditional write: each exam goes to one claim only.
    """
    deps.catalogue.program_for(exam_type)  # unknown exam type: 404 before any write
    now = deps.clock.now()
    record_activity(deps.activity, caller.sub, now, [exam_type])
    _, slots = deps.inventory.list_slots(caller.sub, exam_type)
    ready = _live(slots, ExamStatus.READY, now)
    # Concurrent claims (two tabs) start at different exams so they rarely collide; all expire days from now.
    candidates = random.sample(ready, len(ready))
    for position, slot in enumerate(candidates):
        # A use of a pre-generated exam, counted in the claim's own transaction.
        counts = {name(Metric.USED, CLAIMED_EXAMS): 1, name(Metric.CLAIMED, exam_type): 1}
        if not deps.inventory.claim(slot, now, now + deps.policy.exam_claimed_ttl_hours * 3600, counts):
            continue  # a concurrent claim took it (or it just expired): try the next
        exam = deps.inventory.get_exam(slot.exam_id)
        if exam is None:  # cannot happen: the claim's transaction required the exam item
            continue
        left = len(candidates) - position - 1
        priority = Priority.DEFAULT if left == 0 else Priority.WARMING
        replenished = None
        try:
            replenished = replenish(
                caller.sub, exam_type, priority, deps, correlation_id=correlation_id, payer=caller, action="claim_topup"
            )
        except (RateLimited, OverAllowance) as refused:  # the claim stands; the inventory is not topped up
            logger.info("top-up after a claim not charged", owner=caller.sub, exam_type=exam_type, reason=str(refused))
        except Exception:  # the claim stands; the next claim or the cron tops up again
            logger.exception("replenishment after a claim failed", owner=caller.sub, exam_type=exam_type)
        return Claimed(exam=exam, replenished=replenished)
    # Nothing to hand out: generate at high priority (at least one exam, even with a target of 0). When nothing is
    # being generated for the caller, that is a generation they trigger: it counts against their allowance (429
    # past it, nothing enqueued). A caller already waiting for an exam in progress is not charged again.
    payer = None if _live(slots, ExamStatus.GENERATING, now) else caller
    replenished = replenish(
        caller.sub,
        exam_type,
        Priority.PREDICTIVE,
        deps,
        correlation_id=correlation_id,
        at_least=1,
        payer=payer,
        action="claim",
    )
    # The exam this caller waits for: the one just made at high priority, else the one moved to the fast lane.
    made = replenished.created[0] if replenished.created else None
    generating = made or replenished.promoted or next(iter(replenished.generating_slots), None)
    return Waiting(
        slot=generating,
        retry_after_seconds=deps.policy.exam_retry_after_seconds,
        replenished=replenished,
    )


def inventory_view(caller: Caller, exam_type: str, deps: ExamDeps) -> InventoryView:
    deps.catalogue.program_for(exam_type)
    now = deps.clock.now()  # a read: it does not make the learner active (claims and warms do)
    _, slots = deps.inventory.list_slots(caller.sub, exam_type)
    return InventoryView(
        exam_type=exam_type,
        target=deps.policy.inventory_target,
        ready=_live(slots, ExamStatus.READY, now),
        generating=_live(slots, ExamStatus.GENERATING, now),
        claimed=_live(slots, ExamStatus.CLAIMED, now),
        failed=_live(slots, ExamStatus.FAILED, now),
    )


def claimed_exam(exam_id: str, caller: Caller, deps: ExamDeps) -> ExamRecord:
    """A claimed exam, to its owner only. Anyone else, an unclaimed or an expired exam: not found."""
    exam = deps.inventory.get_exam(exam_id)
    now = deps.clock.now()
    if exam is None or exam.owner != caller.sub or exam.status is not ExamStatus.CLAIMED or exam.expires_at <= now:
        raise NotFound(f"no exam {exam_id}")
    return exam


def submit_answers(exam_id: str, caller: Caller, answers: Sequence[object], deps: ExamDeps) -> Attempt:
    """Grade the caller's answers to their claimed exam and keep the graded attempt: one per exam (a second is a
    409 and changes nothing). 404 as for reading the exam; 400 for answers that do not fit its questions."""
    exam = claimed_exam(exam_id, caller, deps)
    attempt = grade(exam.exam_id, exam.exam_type, exam.body, list(answers), now=deps.clock.now())
    if not deps.inventory.put_attempt(caller.sub, attempt):
        raise Conflict(f"exam {exam_id} was already answered: read the graded attempt at its /attempt")
    logger.info("exam graded", exam_id=exam_id, exam_type=exam.exam_type, correct=attempt.correct, total=attempt.total)
    return attempt


def graded_attempt(exam_id: str, caller: Caller, deps: ExamDeps) -> Attempt:
    """The caller's graded attempt at an exam (kept after the exam itself expires); 404 when there is none."""
    attempt = deps.inventory.get_attempt(caller.sub, exam_id)
    if attempt is None or attempt.expires_at <= deps.clock.now():
        raise NotFound(f"no graded attempt at exam {exam_id}")
    return attempt
