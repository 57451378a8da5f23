"""The worker's side of the inventory: generate one exam section per queue message, and assemble the exam
when its last section is stored (exactly one worker does, under a lease on the slot).

::

    section message ─▶ slot still generating? ── no ──▶ ack ("exam_gone")
          │ yes
          ▼
    section stored already? ── no ──▶ generate → validate against the section spec → store + count (1 transaction)
          │ yes                                   on error: raise (SQS retries this section alone);
          ▼                                       last delivery or permanent: the slot fails (24 h)
    sections_done = total? ── yes ──▶ lease_assembly (condition: no live assembler) ──▶ read sections
                                       → validate the whole exam against its blueprint → publish: exam item +
                                         slot ready (1 transaction) — or fail the slot if the exam is invalid
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from pregen.domain.errors import ContentInvalid, GenerationFailed, PregenError, SpendingError
from pregen.domain.inventory import ExamStatus, SlotGone
from pregen.domain.programs import SectionSpec, section_problems, validate_exam
from pregen.observability import logger
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from pregen.domain.clock import Clock
    from pregen.domain.inventory import ExamInventory, ExamSlot
    from pregen.domain.models import Generation
    from pregen.domain.programs import Catalogue
    from pregen.ports import Counters

Outcome = Literal["exam_gone", "section_stored", "section_duplicate", "exam_assembled", "exam_invalid", "assembling"]
# "assembling": this worker's publish lost its lease to another assembler, who publishes.


class AssemblyPending(PregenError):
    """Another worker holds the assembly lease: SQS delivers this section again later to make sure it finished."""


class SectionMessage(BaseModel):
    """A queue message asking for one section of one exam (``type`` tells the worker it is not a content job)."""

    model_config = ConfigDict(extra="ignore")

    type: Literal["exam_section"]
    owner: str
    spec: SectionSpec
    priority: int = 30
    correlation_id: str | None = None


@dataclass
class ExamWorkerDeps:
    inventory: ExamInventory
    generator: Any  # a Generator that can also ``generate_section`` (offline; the Claude adapter via sections.py)
    counters: Counters
    clock: Clock
    catalogue: Catalogue
    ready_ttl_days: int = 7
    failed_ttl_hours: int = 24
    max_receive_count: int = 3
    assembly_lease_seconds: int = 120


def generate_exam_section(
    message: SectionMessage, *, receive_count: int, worker_id: str, deps: ExamWorkerDeps
) -> Outcome:
    spec = message.spec
    inventory = deps.inventory
    slot = inventory.get_slot(message.owner, spec.exam_type, spec.exam_id)
    now = deps.clock.now()
    if slot is None or slot.status is not ExamStatus.GENERATING or not slot.live(now):
        logger.info("section of an exam no longer generating", exam_id=spec.exam_id, section=spec.index)
        return "exam_gone"
    outcome: Outcome = "section_duplicate"
    if not inventory.has_section(spec.exam_id, spec.index):
        generation = _generate(message, slot, receive_count=receive_count, deps=deps)
        meta = {
            "generator": generation.generator,
            "model": generation.model,
            "usage": generation.usage.model_dump(),
            "cost_usd": round(generation.cost_usd, 8),
            "latency_ms": generation.latency_ms,
        }
        try:
            stored = inventory.put_section(slot, spec.index, generation.body, meta)
        except SlotGone:
            return "exam_gone"
        finished = deps.clock.now()
        deps.counters.add(
            day_of(finished),
            {
                "exam_sections_generated": 1 if stored else 0,
                "cost_usd#exam": generation.cost_usd,
                "tokens_in#exam": generation.usage.input_tokens,
                "tokens_out#exam": generation.usage.output_tokens,
            },
            finished,
        )
        outcome = "section_stored" if stored else "section_duplicate"
    current = inventory.get_slot(message.owner, spec.exam_type, spec.exam_id)
    if current is None or current.status is not ExamStatus.GENERATING or current.sections_done < current.sections_total:
        return outcome
    if not inventory.lease_assembly(current, worker_id, deps.clock.now(), deps.assembly_lease_seconds):
        # Someone holds a live assembly lease. If they finish, this message's next delivery finds the exam ready
        # and is acknowledged; if they crashed, the next delivery (after the lease ran out) assembles. Acking now
        # could leave a complete exam that nobody ever assembles.
        raise AssemblyPending(f"exam {spec.exam_id} is being assembled by another worker")
    return assemble_exam(current, worker_id, deps)


def _generate(message: SectionMessage, slot: ExamSlot, *, receive_count: int, deps: ExamWorkerDeps) -> Generation:
    spec = message.spec
    try:
        write = getattr(deps.generator, "generate_section", None)
        if write is None:
            raise GenerationFailed(f"the {deps.generator.name} generator cannot write exam sections", retryable=False)
        generation: Generation = write(spec)
        problems = section_problems(spec, generation.body)
        if problems:
            raise ContentInvalid("the section does not answer its spec", problems)
    except Exception as exc:
        permanent = isinstance(exc, GenerationFailed) and not exc.retryable
        final = permanent or receive_count >= deps.max_receive_count
        reason = f"section {spec.index}: {_reason(exc)}"
        logger.warning("section failed", exam_id=spec.exam_id, section=spec.index, reason=reason, final=final)
        now = deps.clock.now()
        if final:
            deps.inventory.fail_slot(
                slot.owner,
                slot.exam_type,
                slot.exam_id,
                reason=reason,
                now=now,
                expires_at=now + deps.failed_ttl_hours * 3600,
            )
            deps.counters.add(day_of(now), {f"failed#exam_section#{type(exc).__name__}": 1}, now)
        if isinstance(exc, SpendingError) and exc.spent_usd:
            deps.counters.add(day_of(now), {"cost_usd#exam": exc.spent_usd, "wasted_cost_usd#exam": exc.spent_usd}, now)
        raise
    return generation


def _reason(exc: Exception) -> str:
    if isinstance(exc, ContentInvalid):
        return f"{exc}: {'; '.join(exc.errors[:5])}"
    if isinstance(exc, PregenError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def assemble_exam(slot: ExamSlot, worker_id: str, deps: ExamWorkerDeps) -> Outcome:
    """Put the sections together, check the whole exam against its blueprint, and make it claimable."""
    program = deps.catalogue.programs[slot.program]
    spec = program.exam_types[slot.exam_type]
    sections = deps.inventory.read_sections(slot.exam_id)
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
        reason = _reason(exc)
        logger.warning("assembled exam is invalid", exam_id=slot.exam_id, reason=reason)
        deps.inventory.fail_slot(
            slot.owner,
            slot.exam_type,
            slot.exam_id,
            reason=reason,
            now=now,
            expires_at=now + deps.failed_ttl_hours * 3600,
        )
        deps.counters.add(day_of(now), {"failed#exam_invalid": 1}, now)
        return "exam_invalid"
    meta = {
        "program": program.program,
        "exam_type": slot.exam_type,
        "sections": len(sections),
        "questions": sum(len(s["questions"]) for s in sections),
    }
    if deps.inventory.publish(
        slot, body, meta, worker_id=worker_id, now=now, expires_at=now + deps.ready_ttl_days * 86_400
    ):
        # Not "generated#…": analytics sums those as cached content items per kind; exams have their own counters.
        deps.counters.add(
            day_of(now), {f"exams_assembled#{slot.exam_type}": 1, f"exam_generated#{slot.exam_type}": 1}, now
        )
        logger.info("exam ready", exam_id=slot.exam_id, owner=slot.owner, exam_type=slot.exam_type)
        return "exam_assembled"
    return "assembling"
