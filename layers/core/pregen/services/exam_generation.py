"""The worker's side of the inventory: generate one exam section per queue message, and assemble the exam
when its last section is stored (exactly one worker does, under a lease on the slot).

::

    section message ─▶ slot still generating? ── no ──▶ ack ("exam_gone")
          │ yes
          ▼
    section stored already? ── no ──▶ generate → validate against the section spec → store + count (1 transaction)
          │ yes                                   on error: raise; the lifecycle backs this section off, and on the
          ▼                                       last delivery or a permanent error the slot fails (24 h):
                                                  settle_section_failure
    sections_done = total? ── yes ──▶ lease_assembly (condition: no live assembler) ──▶ read sections
                                       → validate the whole exam against its blueprint → publish: exam item +
                                         slot ready (1 transaction) — or fail the slot if the exam is invalid

    a top-up's section collected from a Message Batch (services/batches.py) ─▶ keep_section ─▶ finish_section:
    the same store and assembly, without the model call
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from pregen.domain.counters import EXAM, Metric, name
from pregen.domain.errors import ContentInvalid, PregenError
from pregen.domain.exam_stats import ready_expiry
from pregen.domain.inventory import ExamStatus, SlotGone
from pregen.domain.programs import section_problems, validate_exam
from pregen.observability import logger
from pregen.services.erasures import refuses
from pregen.services.failures import count_spend, describe, settle_failure
from pregen.services.generation import generation_meta
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from pregen.config.functions import InventorySettings
    from pregen.domain.inventory import ExamSlot
    from pregen.domain.models import Generation
    from pregen.domain.programs import Catalogue
    from pregen.messages import SectionMessage
    from pregen.ports import Clock, Counters, Erasures, ExamInventory, SectionGenerator
    from pregen.services.failures import Failure

Outcome = Literal["exam_gone", "section_stored", "section_duplicate", "exam_assembled", "exam_invalid", "assembling"]
# "assembling": this worker's publish lost its lease to another assembler, who publishes.


class AssemblyPending(PregenError):
    """Another worker holds the assembly lease: SQS delivers this section again later to make sure it finished."""


@dataclass
class ExamWorkerDeps:
    inventory: ExamInventory
    generator: SectionGenerator  # the offline generator, or the Claude adapter's ClaudeSectionWriter
    counters: Counters
    clock: Clock
    catalogue: Catalogue
    policy: InventorySettings  # how long a ready exam and a failed slot are kept
    assembly_lease_seconds: int = 120
    erasures: Erasures | None = None  # tombstones: no section or assembly for a learner erased since the slot began


def generate_exam_section(
    message: SectionMessage, *, receive_count: int, worker_id: str, deps: ExamWorkerDeps
) -> Outcome:
    spec = message.spec
    slot = generating_slot(message, deps)
    if slot is None:
        logger.info("section of an exam no longer generating", exam_id=spec.exam_id, section=spec.index)
        return "exam_gone"
    if deps.inventory.has_section(spec.exam_id, spec.index):
        return finish_section(message, slot, "section_duplicate", worker_id, deps)
    generation = _generate(message, deps)
    return store_section(message, slot, generation, worker_id=worker_id, deps=deps)


def generating_slot(message: SectionMessage, deps: ExamWorkerDeps) -> ExamSlot | None:
    """The section's exam slot while it is still generating (None: gone, failed, ready or expired)."""
    spec = message.spec
    slot = deps.inventory.get_slot(message.owner, spec.exam_type, spec.exam_id)
    if slot is None or slot.status is not ExamStatus.GENERATING or not slot.live(deps.clock.now()):
        return None
    return slot


def store_section(
    message: SectionMessage, slot: ExamSlot, generation: Generation, *, worker_id: str, deps: ExamWorkerDeps
) -> Outcome:
    """Store a section's generation and count it, then assemble the exam when it was the last. Raises
    AssemblyPending while another worker holds the assembly lease."""
    stored = keep_section(message, slot, generation, deps)
    if stored is None:
        return "exam_gone"
    return finish_section(message, slot, "section_stored" if stored else "section_duplicate", worker_id, deps)


def keep_section(message: SectionMessage, slot: ExamSlot, generation: Generation, deps: ExamWorkerDeps) -> bool | None:
    """Store and count a section written now or collected from a Message Batch: True when stored now, False when
    stored already, None when its slot is gone or its owner was erased since the slot began."""
    if refuses(deps.erasures, message.owner, slot.created_at, what="exam section"):
        return None  # the owner was erased while the model worked
    return _store_section(slot, message, generation, deps)


def finish_section(
    message: SectionMessage, slot: ExamSlot, outcome: Outcome, worker_id: str, deps: ExamWorkerDeps
) -> Outcome:
    """After a section was stored (``outcome``): the exam assembled when it was the last, under the assembly lease.
    Raises AssemblyPending while another worker holds that lease."""
    spec = message.spec
    current = deps.inventory.get_slot(message.owner, spec.exam_type, spec.exam_id)
    if current is None or current.status is not ExamStatus.GENERATING or current.sections_done < current.sections_total:
        return outcome
    if outcome == "section_duplicate" and refuses(deps.erasures, message.owner, slot.created_at, what="exam"):
        return "exam_gone"  # (a section stored just now was checked before it was)
    if not deps.inventory.lease_assembly(current, worker_id, deps.clock.now(), deps.assembly_lease_seconds):
        # Someone holds a live assembly lease. If they finish, this message's next delivery finds the exam ready
        # and is acknowledged; if they crashed, the next delivery (after the lease ran out) assembles. Acking now
        # could leave a complete exam that nobody ever assembles.
        raise AssemblyPending(f"exam {spec.exam_id} is being assembled by another worker")
    return assemble_exam(current, worker_id, deps)


def _store_section(
    slot: ExamSlot, message: SectionMessage, generation: Generation, deps: ExamWorkerDeps
) -> bool | None:
    """Store the section and count it: True when stored now, False when stored already, None when the slot is gone."""
    try:
        stored = deps.inventory.put_section(slot, message.spec.index, generation.body, generation_meta(generation))
    except SlotGone:
        return None
    finished = deps.clock.now()
    deps.counters.add(
        day_of(finished),
        {
            name(Metric.EXAM_SECTIONS_GENERATED): 1 if stored else 0,
            name(Metric.COST_USD, EXAM): generation.cost_usd,
            name(Metric.TOKENS_IN, EXAM): generation.usage.input_tokens,
            name(Metric.TOKENS_OUT, EXAM): generation.usage.output_tokens,
        },
        finished,
    )
    return stored


def _generate(message: SectionMessage, deps: ExamWorkerDeps) -> Generation:
    spec = message.spec
    generation = deps.generator.generate_section(spec)
    problems = section_problems(spec, generation.body)
    if problems:
        raise ContentInvalid("the section does not answer its spec", problems)
    return generation


def settle_section_failure(message: SectionMessage, exc: Exception, failure: Failure, deps: ExamWorkerDeps) -> None:
    """A section's record of a failed delivery (the lifecycle decided the failure and its backoff): on a final one
    its slot fails with the reason, counted ``failed#exam_section#<category>``; what it was billed counts as cost
    and as wasted cost. A retry writes nothing (the slot stays generating)."""
    spec = message.spec
    failure = replace(failure, reason=f"section {spec.index}: {failure.reason}")
    now = deps.clock.now()
    settle_failure(
        failure,
        "section failed",
        counters=deps.counters,
        now=now,
        failed_counter=name(Metric.FAILED, "exam_section", failure.category),
        fail_for_good=lambda: _fail_slot(
            message.owner, spec.exam_type, spec.exam_id, reason=failure.reason, deps=deps, now=now
        ),
        exam_id=spec.exam_id,
        section=spec.index,
    )
    count_spend(deps.counters, exc, EXAM, now)


def _fail_slot(owner: str, exam_type: str, exam_id: str, *, reason: str, deps: ExamWorkerDeps, now: float) -> None:
    """The slot fails (kept 24 h to show why); the next top-up makes a new exam in its place."""
    expires_at = now + deps.policy.exam_failed_ttl_hours * 3600
    deps.inventory.fail_slot(owner, exam_type, exam_id, reason=reason, now=now, expires_at=expires_at)


def assemble_exam(slot: ExamSlot, worker_id: str, deps: ExamWorkerDeps) -> Outcome:
    """Put the sections together, check the whole exam against its blueprint, and make it claimable."""
    program = deps.catalogue.programs[slot.program]
    spec = program.exam_types[slot.exam_type]
    stored = deps.inventory.read_sections(slot.exam_id)
    sections = [body for body, _ in stored]
    body = {
        "title": f"{program.title}: {slot.exam_type} exam",
        "exam_type": spec.style,
        "instructions": spec.instructions,
        "sections": sections,
    }
    now = deps.clock.now()
    try:
        validate_exam(program, slot.exam_type, body)
    except ContentInvalid as exc:
        # Regenerating would not help the sections already stored; the slot fails and the next top-up replaces it.
        reason = describe(exc)
        logger.warning("assembled exam is invalid", exam_id=slot.exam_id, reason=reason)
        _fail_slot(slot.owner, slot.exam_type, slot.exam_id, reason=reason, deps=deps, now=now)
        deps.counters.add(day_of(now), {name(Metric.FAILED, "exam_invalid"): 1}, now)
        return "exam_invalid"
    meta = {
        "program": program.program,
        "exam_type": slot.exam_type,
        "sections": len(sections),
        "questions": sum(len(s["questions"]) for s in sections),
        # The sections that came from a Message Batch (a top-up's; billed at the batch price), by index.
        "batched_sections": [index for index, (_, figures) in enumerate(stored) if figures.get("batch")],
    }
    # A whole hour, so analytics counts ready and expired exams exactly (pregen.domain.exam_stats).
    expires_at = ready_expiry(now, deps.policy.exam_ready_ttl_days)
    # Not "generated#…": analytics sums those as cached content items per kind; exams have their own counters.
    counts = {name(Metric.EXAMS_ASSEMBLED, slot.exam_type): 1, name(Metric.EXAM_GENERATED, slot.exam_type): 1}
    if deps.inventory.publish(slot, body, meta, worker_id=worker_id, now=now, expires_at=expires_at, counts=counts):
        logger.info("exam ready", exam_id=slot.exam_id, owner=slot.owner, exam_type=slot.exam_type)
        return "exam_assembled"
    return "assembling"
