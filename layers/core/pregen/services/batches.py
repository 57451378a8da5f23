"""Background work through the Message Batches API: 50 % cheaper, results within 24 h, never for a waiting learner.

::

  background lane ─▶ worker: a chunk of records ─▶ submit_background: each job claimed (one conditional write)
        claimed ─▶ messages.batches.create (custom_id per job) ─▶ batch record {custom_id: job message}
                 └─ records acked; jobs "queued" with their batch_id (reason: in message batch …); keys held in flight
        claim held by another delivery ─▶ handed back until it ends (that claimer may die before submitting)
        job in a batch already, done, or its content stored ─▶ acked; anything else ─▶ generated directly
        (so is a job a learner's miss promoted to the interactive lane before the submission: its marker says so)
  cron collect_batches (every 5 min) ─▶ each open batch: ended? ─▶ results, any order, matched by custom_id
        succeeded and valid ─▶ store_generation (the worker's own store path: content, job done, counters)
        errored / expired / canceled / missing / invalid ─▶ the job back on the background lane with direct=true
  a personal job whose learner was erased (record gone, or tombstone) ─▶ dropped, stored nowhere ("erased")
  a learner's miss on a batched key joins its job and promotes it to the interactive lane (the message names the
  batch) ─▶ collect_promoted: the batch ended with a valid answer? ─▶ stored from it at once, no model call (the
        collection later finds it "collected"); still running, errored or invalid ─▶ generated directly, at once;
        the batch result that arrives later finds the content there and is dropped (superseded, counted wasted).
  a background course's part (job with course_id) ─▶ settled as above, then deps.course_parts: stored ─▶ the part
        done (the course assembled after its last); anything else ─▶ the part message again, direct=true
  every stored result counts batch_saved_usd#<kind>: the same billed usage at the direct price, less the batch's
  an exam top-up's section (background lane, not direct) ─▶ claimed on its exam (exam#<id>/batch#<nnn>, the same
        rules) ─▶ in the batch with its own prompt and schema ─▶ collected: checked with section_problems, stored by
        exam_generation (the exam assembled after its last section), counted as exam_section; failed or invalid
        ─▶ the section message again, direct=true; its exam gone or its learner erased ─▶ stored nowhere
  a background course's alignment judgement (JudgementMessage, not direct) ─▶ claimed on its course
        (course#<id>/judgement#<part>, the same rules) ─▶ in the batch with the judge's prompt and schema ─▶
        collected: checked with the judgement's own validation, kept by course_generation (cached, counted, the
        check settled after the last), counted as judgement; failed or invalid ─▶ the message again, direct=true
        (one direct judgement); its course gone ─▶ stored nowhere
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from pregen.domain.counters import EXAM, Metric, name
from pregen.domain.courses import JUDGEMENT, AlignmentRequest
from pregen.domain.errors import LeaseHeld
from pregen.domain.models import STORED, ContentRequest, JobStatus, Lane
from pregen.domain.pricing import default_prices
from pregen.messages import JobMessage, JudgementMessage, SectionMessage, parse_message
from pregen.observability import logger
from pregen.parallel import both, each, side_by_side
from pregen.services.erasures import refuses
from pregen.services.exam_generation import AssemblyPending, finish_section, generating_slot, keep_section
from pregen.services.failures import count_wasted
from pregen.services.generation import WorkerDeps, store_generation
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.models import Generation
    from pregen.domain.records import BatchClaim, BatchOutcome, StoredContent
    from pregen.ports import BatchGenerator, BatchRequest, BatchStore, CourseStore, JobQueue
    from pregen.services.exam_generation import ExamWorkerDeps

    # One entry of a batch: a content job (a course's part among them), an exam top-up's section, or a background
    # course's alignment judgement.
    BatchEntry = JobMessage | SectionMessage | JudgementMessage

# The provider ends a batch within 24 h; a batch still open past that (plus a margin) is treated as expired.
BATCH_EXPIRY_SECONDS = 24 * 3_600 + 3_600
# How long a batched key stays in flight: background requests for it join the job instead of batching it again.
BATCH_HOLD_SECONDS = BATCH_EXPIRY_SECONDS + 3_600
# A batched job's reason starts with this (then the batch id).
IN_BATCH = "in message batch"
# The batch counters' kind of an exam section (its cost counters are the exam's, as a direct section's are).
EXAM_SECTION = "exam_section"
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class BatchDeps:
    worker: WorkerDeps
    generator: BatchGenerator
    batches: BatchStore
    queue: JobQueue
    # A background course's part (a job with a course_id), once collection settled its job: the part finished, or
    # sent again for a direct call (pregen.services.course_generation.settle_batched_part).
    course_parts: Callable[[JobMessage, str], None] | None = None
    # Exam sections (the worker's section deps): without them a section is never batched.
    exams: ExamWorkerDeps | None = None
    # Background courses' alignment judgements (claimed on their course; without it a judgement is never batched),
    # and their results once collected (pregen.services.course_generation.settle_batched_judgement).
    courses: CourseStore | None = None
    judgements: Callable[[JudgementMessage, Generation], str] | None = None


def custom_id_for(job_id: str) -> str:
    """The job id when the provider accepts it as a custom_id (≤ 64 of [A-Za-z0-9_-]), else a digest of it."""
    if _CUSTOM_ID.fullmatch(job_id):
        return job_id
    return "h" + hashlib.sha256(job_id.encode()).hexdigest()[:40]


def submit_background(messages: list[BatchEntry], deps: BatchDeps, owner: str | None = None) -> set[str]:
    """Submit the chunk as one Message Batch. Returns the entry ids (``entry_id``: a job's id, an exam section's)
    it took care of (batched, already cached, already in a batch, or handed back while another delivery's claim
    holds them); the caller processes any other message directly. Provider errors propagate (the claims released
    first): the caller falls back.

    Each job, and each exam section, is claimed before the submission (``JobStore.claim_for_batch``,
    ``ExamInventory.claim_section_for_batch``: one conditional write): of two deliveries of one message at the same
    moment exactly one submits it; the other hands its copy back until the claim ends. A claimer that dies before
    submitting leaves a claim that expires after the lease, and the message, back after its visibility timeout, is
    claimed again."""
    now = deps.worker.clock.now()
    owner = owner or uuid.uuid4().hex
    until = now + deps.worker.policy.lease_seconds
    candidates = _candidates(messages)
    claim = partial(_claim_entry, deps=deps, owner=owner, now=now, until=until)
    checked = each(claim, [message for message, _ in candidates.values()])
    entries: dict[str, BatchEntry] = {}
    requests: dict[str, BatchRequest] = {}
    handled: set[str] = set()
    for (custom_id, (message, request)), verdict in zip(candidates.items(), checked, strict=True):
        if verdict == "claimed":
            entries[custom_id], requests[custom_id] = message, request
        elif verdict == "handled":
            handled.add(message.entry_id)
    if not entries:
        return handled
    try:
        batch_id = deps.generator.submit_batch(list(requests.items()))
    except Exception:
        side_by_side(*(partial(_release, m, owner, deps) for m in entries.values()))
        raise
    deps.batches.put_batch(batch_id, {cid: m.wire() for cid, m in entries.items()}, now)
    reason = f"{IN_BATCH} {batch_id}"
    hold = now + BATCH_HOLD_SECONDS
    for message in entries.values():
        if isinstance(message, JudgementMessage):
            assert deps.courses is not None  # (a judgement is claimed only with them)
            deps.courses.record_judgement_batch(message.course_id, message.part_id, owner, batch_id, hold)
        elif isinstance(message, SectionMessage):
            assert deps.exams is not None  # (a section is claimed only with them)
            deps.exams.inventory.record_section_batch(message.owner, message.spec, owner, batch_id, hold)
        else:
            deps.worker.store.hold_inflight(message.key, message.job_id, hold)
            deps.worker.jobs.record_batch(message.job_id, batch_id, now, reason=reason, hold_until=hold)
        handled.add(message.entry_id)
    kinds: dict[str, int | float] = {}
    for request in requests.values():
        submitted = name(Metric.BATCH_SUBMITTED, _kind(request))
        kinds[submitted] = kinds.get(submitted, 0) + 1
    deps.worker.counters.add(day_of(now), kinds, now)
    logger.info("message batch submitted", batch_id=batch_id, requests=len(entries))
    return handled


def _kind(request: BatchRequest) -> str:
    """The batch counters' kind of an entry: the content kind, ``exam_section`` or ``judgement``."""
    if isinstance(request, AlignmentRequest):
        return JUDGEMENT
    return request.kind.value if isinstance(request, ContentRequest) else EXAM_SECTION


def _release(message: BatchEntry, owner: str, deps: BatchDeps) -> None:
    """Give back a claim whose submission failed."""
    if isinstance(message, JudgementMessage):
        if deps.courses is not None:
            deps.courses.release_judgement_claim(message.course_id, message.part_id, owner)
        return
    if isinstance(message, SectionMessage):
        if deps.exams is not None:
            deps.exams.inventory.release_section_claim(message.spec.exam_id, message.spec.index, owner)
        return
    deps.worker.jobs.release_batch_claim(message.job_id, owner)


def _candidates(messages: list[BatchEntry]) -> dict[str, tuple[BatchEntry, BatchRequest]]:
    """The chunk's batchable messages by custom_id (one per job or section), with their requests."""
    candidates: dict[str, tuple[BatchEntry, BatchRequest]] = {}
    for message in messages:
        custom_id = custom_id_for(message.entry_id)
        if custom_id in candidates or message.direct:
            continue
        if isinstance(message, SectionMessage):
            candidates[custom_id] = (message, message.spec)
            continue
        if isinstance(message, JudgementMessage):
            candidates[custom_id] = (message, AlignmentRequest(message.questions, message.objectives))
            continue
        try:
            request = ContentRequest.model_validate(message.request, context=STORED)
        except ValidationError:
            continue  # the direct path fails it with its reason
        candidates[custom_id] = (message, request)
    return candidates


def _claim_entry(message: BatchEntry, *, deps: BatchDeps, owner: str, now: float, until: float) -> str:
    if isinstance(message, JudgementMessage):
        return _claim_judgement(message, deps=deps, owner=owner, now=now, until=until)
    if isinstance(message, SectionMessage):
        return _claim_section(message, deps=deps, owner=owner, now=now, until=until)
    return _claim_one(message, deps=deps, owner=owner, now=now, until=until)


def _claim_section(message: SectionMessage, *, deps: BatchDeps, owner: str, now: float, until: float) -> str:
    """Claim one exam section for this submission: "claimed"; "handled" (in a batch already, or handed back while
    another delivery holds the claim); "direct" (no section deps, its exam no longer generating, or the section
    stored already: its handler acknowledges it, or assembles the exam after its last section)."""
    exams = deps.exams
    if exams is None:
        return "direct"
    spec = message.spec
    slot, stored = both(
        partial(generating_slot, message, exams), partial(exams.inventory.has_section, spec.exam_id, spec.index)
    )
    if slot is None or stored:
        return "direct"
    claim = exams.inventory.claim_section_for_batch(spec.exam_id, spec.index, owner, now, until)
    if claim.won:
        return "claimed"
    if claim.batch_id is not None:
        return "handled"  # delivered again after its submission: the batch's collection settles it
    return _hand_back(message, claim, now, deps, kind="exam_section")


def _claim_judgement(message: JudgementMessage, *, deps: BatchDeps, owner: str, now: float, until: float) -> str:
    """Claim one course alignment judgement for this submission: "claimed"; "handled" (in a batch already, judged
    already, or handed back while another delivery holds the claim); "direct" (no course deps: its handler judges
    it directly, or finds its course no longer waiting for it)."""
    if deps.courses is None or deps.judgements is None:
        return "direct"
    claim = deps.courses.claim_judgement_for_batch(message.course_id, message.part_id, owner, now, until)
    if claim.won:
        return "claimed"
    if claim.batch_id is not None:
        return "handled"  # delivered again after its submission (or judged): its collection settles it
    return _hand_back(message, claim, now, deps, kind="judgement")


def _hand_back(message: BatchEntry, claim: BatchClaim, now: float, deps: BatchDeps, *, kind: str) -> str:
    """Another delivery claimed it a moment ago and is submitting it: the copy is handed back, not acknowledged,
    so that should that claimer die before submitting, this copy claims it once the claim has expired. "direct"
    when no claim holds it (the direct path decides)."""
    if claim.held_until is None or claim.held_until < now:
        return "direct"
    after_s = max(1, min(900, math.ceil(claim.held_until - now) + 1))
    deps.queue.send(Lane.BACKGROUND, message.wire(), delay_seconds=after_s)
    logger.info("handed back", kind=kind, reason="claimed for a message batch by another delivery", after_s=after_s)
    return "handled"


def _claim_one(message: JobMessage, *, deps: BatchDeps, owner: str, now: float, until: float) -> str:
    """Claim one job for this submission (and read its key): "claimed"; "handled" (cached, done, in a batch, or
    handed back while another delivery holds the claim); "direct" (anything else: the direct path decides)."""
    claim, stored = both(
        partial(deps.worker.jobs.claim_for_batch, message.job_id, owner, now, until),
        partial(deps.worker.store.get_content, message.key, now, consistent=True),
    )
    if stored is not None and message.course_id:
        # A course's part: its handler finishes it from the cache, directly (a claim won here is given back).
        if claim.won:
            deps.worker.jobs.release_batch_claim(message.job_id, owner)
        return "direct"
    if stored is not None:  # a claim won here ends with the job (done)
        deps.worker.jobs.set_status(message.job_id, JobStatus.DONE, now)
        return "handled"
    if claim.won:
        return _unless_promoted(message, deps, owner, now)
    job = claim.job
    if job is not None and (job.status is JobStatus.DONE or claim.batch_id is not None):
        # Done, or delivered again after its submission (its invocation died later, or SQS delivered it twice): the
        # batch's collection settles it; a second batch would generate it twice.
        return "handled"
    if job is None:
        return "direct"
    return _hand_back(message, claim, now, deps, kind="job")


def _unless_promoted(message: JobMessage, deps: BatchDeps, owner: str, now: float) -> str:
    """A job claimed for the batch: "claimed", unless a learner's miss has promoted it to the interactive lane
    before this submission (the key's in-flight marker says so; read only for a won claim): its interactive
    delivery generates it at once, and in a batch too it would be answered twice (bench.faults --stack --batches:
    11 in 240 jobs). The claim is given back and this copy goes the direct way ("direct"): it finds the key
    stored, leased by that delivery (handed back until it ends), or generates it first itself."""
    marker = deps.worker.store.get_inflight(message.key, now)
    if marker is None or marker.job_id != message.job_id or marker.lane != Lane.INTERACTIVE.value:
        return "claimed"
    deps.worker.jobs.release_batch_claim(message.job_id, owner)
    logger.info("promoted before its submission: not batched", job_id=message.job_id)
    return "direct"


def collect_batches(deps: BatchDeps) -> dict[str, Any]:
    """Collect every ended batch: store what succeeded, send the rest back for a direct call. Idempotent: a batch
    is closed only after all its entries are settled, and storing or falling back twice is harmless."""
    now = deps.worker.clock.now()
    summary = {"batches_open": 0, "batches_collected": 0, "stored": 0, "collected": 0, "fell_back": 0}
    summary |= {"superseded": 0, "erased": 0}
    for batch_id, submitted_at in deps.batches.open_batches():
        messages = {cid: _entry(entry) for cid, entry in deps.batches.get_entries(batch_id).items()}
        requests = {cid: _request_of(m) for cid, m in messages.items()}
        if deps.generator.batch_ended(batch_id):
            outcomes = {o.custom_id: o for o in deps.generator.batch_results(batch_id, requests)}
        elif now - submitted_at > BATCH_EXPIRY_SECONDS:
            outcomes = {}  # the provider should have ended it by now: every request counts as expired
        else:
            summary["batches_open"] += 1
            continue
        counts = {"stored": 0, "collected": 0, "fell_back": 0, "superseded": 0, "erased": 0}
        for custom_id, message in messages.items():
            outcome = outcomes.get(custom_id)
            if isinstance(message, SectionMessage):
                settled = _settle_section(batch_id, message, outcome, deps, submitted_at=submitted_at)
                counts[settled] += 1
                continue
            if isinstance(message, JudgementMessage):
                counts[_settle_judgement(message, outcome, deps, submitted_at=submitted_at)] += 1
                continue
            request = requests[custom_id]
            assert isinstance(request, ContentRequest)
            settled = _settle(batch_id, message, request, outcome, deps, submitted_at=submitted_at)
            counts[settled] += 1
            if message.course_id and deps.course_parts is not None:
                deps.course_parts(message, settled)
        deps.batches.close_batch(batch_id, counts, deps.worker.clock.now())
        summary["batches_collected"] += 1
        for settled, value in counts.items():
            summary[settled] += value
        logger.info("message batch collected", batch_id=batch_id, counts=counts)
    return summary


def collect_promoted(message: JobMessage, deps: BatchDeps, worker_id: str) -> bool:
    """A job promoted to the interactive lane while in a Message Batch (its message names the batch), before any
    model call: when the batch has ended (the Batches API's retrieve: no tokens, not a model request) with a valid
    answer for the job, that answer is stored as the collection stores it (``_store_answer``: the key's lease, one
    store, the job done, the saving counted) and True. False, nothing written, and the worker generates directly
    as before: the batch still running (a learner waits; a batch can take hours), its entry errored, expired or
    invalid, the key stored or leased already, or the provider not answering. The collection settles the entry
    later all the same: "collected" (counted here), or superseded and counted as wasted."""
    batch_id = message.batch_id
    if batch_id is None or message.regenerate_of is not None:
        return False
    try:
        request = ContentRequest.model_validate(message.request, context=STORED)
    except ValidationError:
        return False  # the direct path fails it with its reason
    custom_id = custom_id_for(message.job_id)
    try:
        if not deps.generator.batch_ended(batch_id):
            logger.info("promoted job's batch still running: generating directly", batch_id=batch_id)
            return False
        results = deps.generator.batch_results(batch_id, {custom_id: request})
        outcome = next((o for o in results if o.custom_id == custom_id), None)
    except Exception:  # an optimisation: when the provider cannot say, the learner's job is generated directly
        logger.exception("could not read the promoted job's batch: generating directly", batch_id=batch_id)
        return False
    if outcome is None or outcome.generation is None:
        reason = outcome.error if outcome is not None else "no result"
        logger.info("promoted job's batch answer unusable: generating directly", batch_id=batch_id, reason=reason)
        return False
    # Its own holder: the lease is not the collection's, so of the two exactly one stores the answer.
    collector = f"batch:{batch_id}:{worker_id}"
    submitted_at = message.created_at or deps.worker.clock.now()  # the learner's wait counts from the job's start
    settled = _store_answer(
        message, request, outcome.generation, deps, collector=collector, submitted_at=submitted_at, collecting=False
    )
    logger.info("promoted job's batch answer", batch_id=batch_id, settled=settled)
    return settled == "stored"


def _entry(entry: dict[str, Any]) -> BatchEntry:
    """A batch entry as stored: a content job (entries written before sections were batched have no ``type``) or
    an exam section."""
    message = parse_message(entry)
    if not isinstance(message, JobMessage | SectionMessage | JudgementMessage):
        raise TypeError(f"a Message Batch holds no {message.type} entries")
    return message


def _request_of(message: BatchEntry) -> BatchRequest:
    if isinstance(message, SectionMessage):
        return message.spec
    if isinstance(message, JudgementMessage):
        return AlignmentRequest(message.questions, message.objectives)
    return ContentRequest.model_validate(message.request, context=STORED)


def _settle_section(
    batch_id: str, message: SectionMessage, outcome: BatchOutcome | None, deps: BatchDeps, *, submitted_at: float
) -> str:
    """One exam section's batch result: stored by exam_generation (the exam assembled after its last section);
    failed or invalid ─▶ the section again, direct; its exam gone or its learner erased ─▶ stored nowhere."""
    exams = deps.exams
    worker = deps.worker
    now = worker.clock.now()
    spec = message.spec
    if exams is None or outcome is None or outcome.generation is None:
        reason = outcome.error if outcome is not None else "batch request expired (no result)"
        if outcome is not None and outcome.spent_usd:
            count_wasted(worker.counters, outcome.spent_usd, EXAM, now)
        if exams is not None and exams.inventory.has_section(spec.exam_id, spec.index):
            return "superseded"  # (its exam promoted for a waiting learner, and written directly)
        direct = message.model_copy(update={"direct": True})
        deps.queue.send(Lane.BACKGROUND, direct.wire())
        worker.counters.add(day_of(now), {name(Metric.BATCH_FALLBACK, EXAM_SECTION): 1}, now)
        logger.info("exam section falls back to a direct call", exam_id=spec.exam_id, section=spec.index, reason=reason)
        return "fell_back"
    generation = outcome.generation
    slot = generating_slot(message, exams)
    if slot is None:  # erased (the slot deleted with the learner), or the exam failed or expired meanwhile
        count_wasted(worker.counters, generation.cost_usd, EXAM, now)
        return "erased" if refuses(worker.erasures, message.owner, None, what="batch result") else "superseded"
    latency_ms = int(max(0.0, now - submitted_at) * 1000)
    generation = generation.model_copy(update={"latency_ms": latency_ms, "batch": True})
    stored = keep_section(message, slot, generation, exams)
    if stored is None:  # the learner erased since the slot began (the tombstone), or the slot gone just now
        count_wasted(worker.counters, generation.cost_usd, EXAM, now)
        return "erased"
    if not stored:  # written directly meanwhile (a learner waited for this exam)
        count_wasted(worker.counters, generation.cost_usd, EXAM, now)
        return "superseded"
    _count_saving(worker, EXAM_SECTION, generation.cost_usd, now)
    try:
        finish_section(message, slot, "section_stored", f"batch:{batch_id}", exams)
    except AssemblyPending:
        # Another worker assembles; the section again, direct: its handler finds it stored and makes sure the
        # exam is assembled (or finds it ready).
        deps.queue.send(Lane.BACKGROUND, message.model_copy(update={"direct": True}).wire())
    return "stored"


def _settle_judgement(
    message: JudgementMessage, outcome: BatchOutcome | None, deps: BatchDeps, *, submitted_at: float
) -> str:
    """One course alignment judgement's batch result: kept with its course (the check settled after the last);
    failed or invalid ─▶ the message again, direct (one direct judgement); its course gone ─▶ kept nowhere."""
    worker = deps.worker
    now = worker.clock.now()
    settled = "fell_back"
    spent = outcome.spent_usd if outcome is not None else 0.0
    if outcome is not None and outcome.generation is not None and deps.judgements is not None:
        latency_ms = int(max(0.0, now - submitted_at) * 1000)
        generation = outcome.generation.model_copy(update={"latency_ms": latency_ms, "batch": True})
        settled = deps.judgements(message, generation)
        if settled == "stored":
            _count_saving(worker, JUDGEMENT, generation.cost_usd, now)
            return "stored"
        if settled == "superseded":
            count_wasted(worker.counters, generation.cost_usd, JUDGEMENT, now)
            return "superseded"
        settled = "fell_back"  # invalid: one direct judgement
    if spent:
        count_wasted(worker.counters, spent, JUDGEMENT, now)
    reason = outcome.error if outcome is not None and outcome.error else "batch request expired (no result)"
    deps.queue.send(Lane.BACKGROUND, message.model_copy(update={"direct": True}).wire())
    worker.counters.add(day_of(now), {name(Metric.BATCH_FALLBACK, JUDGEMENT): 1}, now)
    logger.info("alignment judgement falls back to a direct call", course_id=message.course_id, reason=reason)
    return settled


def _count_saving(worker: WorkerDeps, kind: str, cost_usd: float, now: float) -> None:
    """A stored batch result: what the same billed usage costs in a direct call (the batch price is discount x
    that) less it."""
    saved = cost_usd / default_prices().batch_discount - cost_usd
    counts = {name(Metric.BATCH_SUCCEEDED, kind): 1, name(Metric.BATCH_SAVED_USD, kind): round(saved, 8)}
    worker.counters.add(day_of(now), counts, now)


def _settle(
    batch_id: str,
    message: JobMessage,
    request: ContentRequest,
    outcome: BatchOutcome | None,
    deps: BatchDeps,
    *,
    submitted_at: float,
) -> str:
    worker = deps.worker
    now = worker.clock.now()
    kind = request.kind.value
    if outcome is None or outcome.generation is None:
        reason = outcome.error if outcome is not None else "batch request expired (no result)"
        if outcome is not None and outcome.spent_usd:
            count_wasted(worker.counters, outcome.spent_usd, kind, now)
        if worker.store.get_content(message.key, now, consistent=True) is not None:
            worker.jobs.set_status(message.job_id, JobStatus.DONE, now)
            return "superseded"
        if message.course_id is None:  # a course's part is sent again as a part (deps.course_parts)
            direct = message.model_copy(update={"direct": True, "throttle_retries": 0})
            deps.queue.send(Lane.BACKGROUND, direct.wire())
        worker.jobs.set_status(message.job_id, JobStatus.QUEUED, now, reason=f"{reason}; falling back to a direct call")
        worker.counters.add(day_of(now), {name(Metric.BATCH_FALLBACK, kind): 1}, now)
        return "fell_back"
    collector = f"batch:{batch_id}"
    return _store_answer(message, request, outcome.generation, deps, collector=collector, submitted_at=submitted_at)


def _store_answer(
    message: JobMessage,
    request: ContentRequest,
    generation: Generation,
    deps: BatchDeps,
    *,
    collector: str,
    submitted_at: float,
    collecting: bool = True,
) -> str:
    """A valid batch answer for a content job, stored as a direct generation is (``store_generation``) under the
    key's lease taken for ``collector``: "stored" (the saving counted), or why not: "collected" (this very answer
    was stored already: by a promoted job's worker, or a collection that ended before closing the batch),
    "superseded" (a direct generation stored the key, or holds its lease), "erased". ``collecting``: the batch's
    collection counts a billed answer it does not store as wasted; a promoted job's worker (False) counts only what
    it stores, and leaves the rest to the collection, which settles every entry once."""
    worker = deps.worker
    now = worker.clock.now()
    kind = request.kind.value

    def not_stored(settled: str) -> str:
        if collecting and settled != "collected":
            count_wasted(worker.counters, generation.cost_usd, kind, now)
        return settled

    stored = worker.store.get_content(message.key, now, consistent=True)
    if stored is not None:
        # A learner asked meanwhile and it was generated directly (or collected): the batch answer is not needed.
        worker.jobs.set_status(message.job_id, JobStatus.DONE, now)
        return not_stored(_stored_by(stored, message))
    started_at = None
    if message.owner or message.requested_by:
        job = worker.jobs.get_job(message.job_id)
        started_at = job.created_at if job is not None else None
        # A personal job's record is gone, or its learner erased since: storing it would bring their data back.
        if message.owner and (job is None or refuses(worker.erasures, message.owner, started_at, what="batch result")):
            return not_stored("erased")
    lease = _collector_lease(message, collector, worker, now)
    if lease == "cached":  # stored since the read above: a direct generation, or this answer by another collector
        worker.jobs.set_status(message.job_id, JobStatus.DONE, now)
        return not_stored(_stored_by(worker.store.get_content(message.key, now, consistent=True), message))
    if lease != "leased":
        return "superseded"  # being generated directly, or collected, right now (that finishes the key)
    # A batch's latency is what the learner's app waited for: from submission to this collection.
    latency_ms = int(max(0.0, now - submitted_at) * 1000)
    generation = generation.model_copy(update={"latency_ms": latency_ms, "batch": True})
    store_generation(message, request, generation, collector, worker, started_at=started_at)
    _count_saving(worker, kind, generation.cost_usd, now)
    return "stored"


def _stored_by(stored: StoredContent | None, message: JobMessage) -> str:
    """What the key's content is to a batch answer for ``message``'s job: "collected" when it is that answer (a
    job is in one batch at most, and its batch answer is stored with ``batch`` and its job id), else
    "superseded"."""
    if stored is not None and stored.meta.get("batch") and stored.meta.get("job_id") == message.job_id:
        return "collected"
    return "superseded"


def _collector_lease(message: JobMessage, collector: str, worker: WorkerDeps, now: float) -> str:
    """Lease the key for storing a batch answer: "leased", "held" (a direct generation holds it) or "cached". Only
    while the key has no content, in the lease's own write, as a direct delivery leases it: a direct generation
    that stored the key after the collection read it has ended its lease, and a second store would publish the key
    twice (``bench.faults --stack --batches`` stored one key twice so)."""
    try:
        leased = worker.store.acquire_lease(
            message.key,
            message.job_id,
            collector,
            now,
            worker.policy.lease_seconds,
            unless_cached=message.regenerate_of is None,
        )
    except LeaseHeld:
        return "held"
    return "leased" if leased else "cached"
