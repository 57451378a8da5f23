"""Ports: what the use cases need from storage, the queue and the generator. Adapters implement them.

For type checking only: nothing imports this module at run time (Protocol classes cost cold start); the values
that cross the ports are in ``pregen.domain.records``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pregen.domain.attempts import Attempt
    from pregen.domain.course_shares import Share
    from pregen.domain.courses import (
        AlignmentRequest,
        CourseRecord,
        CourseRequest,
        LibraryLesson,
        PartRecord,
        PartStatus,
    )
    from pregen.domain.cron_runs import CronRun
    from pregen.domain.exam_stats import LearnerExams
    from pregen.domain.inventory import ActivityPage, ExamRecord, ExamSlot
    from pregen.domain.library import Version, VersionStatus, VoteReason, VoteValue
    from pregen.domain.limits import Charge, Consumed
    from pregen.domain.models import ContentRequest, Generation, Job, JobStatus, Lane
    from pregen.domain.near import IndexEntry, Verdict
    from pregen.domain.prediction import TransitionCounts
    from pregen.domain.programs import SectionSpec
    from pregen.domain.records import (
        BatchClaim,
        BatchOutcome,
        Erased,
        ErasureStatus,
        FinishedGeneration,
        FinishWritten,
        InflightClaim,
        KeyClaim,
        QueuedMessage,
        StoredContent,
    )

    # One entry of a Message Batch: a content request, an exam section, or a course's alignment judgement.
    BatchRequest = ContentRequest | SectionSpec | AlignmentRequest


class ContentStore(Protocol):
    def get_content(self, key: str, now: float, *, consistent: bool = False) -> StoredContent | None: ...

    def put_content(self, content: StoredContent) -> None: ...

    def get_inflight(self, key: str, now: float) -> InflightClaim | None: ...

    def claim_inflight(self, key: str, job_id: str, lane: Lane, now: float, hold_seconds: int) -> InflightClaim: ...

    def promote_inflight(self, key: str, job_id: str, lane: Lane) -> bool: ...

    def take_over_inflight(
        self, key: str, stale_job_id: str, job_id: str, lane: Lane, *, now: float, hold_seconds: int
    ) -> bool: ...

    def hold_inflight(self, key: str, job_id: str, until: float) -> bool: ...

    def release_inflight(self, key: str, job_id: str) -> None: ...

    def acquire_lease(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, unless_cached: bool = False
    ) -> bool:
        """Lease the key for a worker (``LeaseHeld`` when another holds it); ``unless_cached``: only while the key
        has no live content, in the same write (False: it has, nothing written)."""
        ...

    def end_lease(self, key: str, worker_id: str) -> None: ...

    def requeue_lease(self, key: str, worker_id: str) -> None: ...


class GenerationWrites(Protocol):
    """A generation's writes around its model call, together (``pregen.adapters.finish``)."""

    def lease(
        self,
        key: str,
        job_id: str,
        worker_id: str,
        now: float,
        lease_seconds: int,
        *,
        unless_cached: bool,
        attempts: int,
    ) -> bool:
        """``ContentStore.acquire_lease``, and the job marked ``generating`` (``attempts``: its deliveries) in the
        same write, if the job is there and not done."""
        ...

    def lease_fresh(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, attempts: int
    ) -> bool:
        """``lease(unless_cached=True)`` with no read of the job before it: only while the job is as its claim
        wrote it (queued, no model call made); False, nothing written, when anything else holds (then read it)."""
        ...

    def finish(self, done: FinishedGeneration) -> FinishWritten:
        """Store the content (and its library version and index entry), end the job and the lease, add the counters
        (the learner's unless erased since ``started_at``): one transaction where the engine allows."""
        ...


class JobStore(Protocol):
    def put_job(self, job: Job) -> None: ...

    def get_job(self, job_id: str) -> Job | None: ...

    def delete_job(self, job_id: str) -> None: ...

    def set_status(
        self,
        job_id: str,
        status: JobStatus,
        now: float,
        *,
        reason: str | None = None,
        attempts: int | None = None,
        meta: dict[str, Any] | None = None,
        next_attempt_at: float | None = None,
        attempt: tuple[dict[str, Any], int] | None = None,
    ) -> None:
        """Move a job on (a done job stays done); ``attempt``: also ``record_attempt(entry, calls=n)``, in the same
        write."""
        ...

    def record_attempt(
        self, job_id: str, attempt: dict[str, Any], *, calls: int, now: float, next_attempt_at: float | None = None
    ) -> int:
        """Append one delivery's attempt to the job's history and add its model calls; returns the job's total
        of model calls (0 when the job is gone). ``next_attempt_at`` is set, or cleared when None."""
        ...

    def claim_for_batch(self, job_id: str, owner: str, now: float, until: float) -> BatchClaim:
        """Claim a job for one Message Batch submission, in one conditional write: only when the job is queued or
        failed (not done, not generating), in no batch yet, and no live claim holds it (an expired one is taken
        over). The claim lasts until ``until``; what the record said when the claim is lost."""
        ...

    def release_batch_claim(self, job_id: str, owner: str) -> None:
        """End this owner's claim (its submission failed): the next delivery may claim the job at once."""
        ...

    def record_batch(self, job_id: str, batch_id: str, now: float, *, reason: str, hold_until: float) -> None:
        """The job is in batch ``batch_id`` (queued, with ``reason``); no delivery claims it again before
        ``hold_until``. A job that is done stays done."""
        ...


class KeyClaims(Protocol):
    def claim(
        self,
        job: Job,
        now: float,
        hold_seconds: int,
        *,
        unless_cached: bool,
        alias: bool = False,
        charge: Charge | None = None,
    ) -> KeyClaim:
        """Mark ``job.key`` in flight for the job and record the job, both or neither, in one write: only when no
        live marker holds the key, (``unless_cached``) no live content is stored for it and (``alias``) the
        wording has no live near-duplicate alias; with ``charge`` counted in the same write, only when each of its
        windows has room. A lost claim says why (``KeyClaim``)."""
        ...


class Counters(Protocol):
    def add(self, day: str, counts: dict[str, int | float], now: float) -> None: ...

    def add_learner(self, sub: str, day: str, counts: dict[str, int | float], now: float) -> None: ...

    def read_days(self, days: list[str]) -> dict[str, dict[str, float]]: ...

    def add_gauges(self, counts: dict[str, int | float], now: float) -> None: ...

    def read_gauges(self) -> dict[str, float]: ...

    def read_items(self, pks: list[str]) -> dict[str, dict[str, float]]: ...

    def add_once(
        self, batch_id: str, per_day: dict[str, dict[str, int | float]], now: float, *, keep_days: int = 7
    ) -> bool: ...


class JobQueue(Protocol):
    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None: ...

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        """Send many messages to a lane in as few requests as the queue allows (SQS: 10 a request); the indexes of
        the messages that were not sent."""
        ...

    def retry_in(self, lane: Lane, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after ``seconds`` (its visibility timeout), not the queue's default."""
        ...

    def depth(self, urls: dict[str, str]) -> dict[str, dict[str, int]]: ...

    def peek(self, url: str, limit: int) -> list[QueuedMessage]:
        """Up to ``limit`` messages of a queue (a dead-letter queue), left in it."""
        ...


class Generator(Protocol):
    name: str

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        """``feedback``: a regeneration's reason and down-vote comments, for the model to act on. ``max_calls``:
        at most this many model calls (re-asks and retries included); a failure carries the calls it made."""
        ...


class Judge(Protocol):
    def judge_same(self, wording: ContentRequest, candidate: ContentRequest) -> Verdict:
        """Would ``candidate``'s content serve a learner who asked for ``wording``? (issue 33; a structured
        small-tier judgement with Claude, ``pregen.domain.near.offline_verdict`` offline)."""
        ...


class AlignmentJudge(Protocol):
    def judge_alignment(self, questions: list[dict[str, Any]], objectives: list[str]) -> Generation:
        """Does each question of an assessment (``pregen.domain.courses.judged_questions``) examine the objective
        it names? One structured small-tier answer (``AlignmentAnswer``, schema-checked) with Claude,
        ``pregen.domain.courses.offline_alignment`` offline; a refusal or an error raises."""
        ...


class NearStore(Protocol):
    """Aliases, the candidate index and judgements of near-duplicate requests (``pregen.adapters.near``)."""

    def get_alias(self, key: str, now: float) -> str | None: ...

    def put_alias(self, key: str, target: str, why: str, now: float, expires_at: float) -> None: ...

    def delete_alias(self, key: str) -> bool: ...

    def add_entry(self, bucket: str, entry: IndexEntry, expires_at: float) -> None: ...

    def entries(self, bucket: str, now: float) -> list[IndexEntry]: ...

    def get_verdict(self, key: str, candidate: str) -> Verdict | None: ...

    def put_verdict(self, key: str, candidate: str, verdict: Verdict, now: float, expires_at: float) -> None: ...


class LibraryStore(Protocol):
    """Versions of a content key, their counter items and learners' votes (the shared lesson library)."""

    def add_version(self, content: StoredContent, version: Version, *, supersedes: str | None = None) -> None: ...

    def get_version(self, key: str, version_id: str, now: float) -> Version | None: ...

    def list_versions(self, key: str, now: float) -> list[Version]: ...

    def get_body(self, key: str, version_id: str) -> StoredContent | None: ...

    def key_hits(self, key: str) -> int: ...

    def promote(self, body: StoredContent, new: Version, old: Version | None, key_hits: int, now: float) -> bool: ...

    def set_status(self, key: str, version_id: str, status: VersionStatus, *, expected: VersionStatus) -> bool: ...

    def mark_regeneration(self, key: str, version_id: str, now: float) -> bool: ...

    def clear_regeneration(self, key: str, version_id: str) -> None: ...

    def get_vote(self, key: str, version_id: str, sub: str) -> tuple[VoteValue, str | None] | None: ...

    def put_vote(
        self,
        version: Version,
        sub: str,
        *,
        old: VoteValue | None,
        new: VoteValue,
        delta: tuple[int, int],
        comment: str | None,
        reason: VoteReason | None = None,
        now: float,
    ) -> bool: ...

    def down_vote_reasons(self, key: str, version_id: str) -> dict[str, int]: ...

    def served_bodies(
        self, wanted: list[tuple[str, str | None]], now: float
    ) -> dict[tuple[str, str | None], StoredContent]:
        """Each (key, pinned version or None)'s body: the pinned version's, else the key's served one."""
        ...

    def lesson_catalogue(self, scope: str, now: float, limit: int) -> list[LibraryLesson]:
        """Up to ``limit`` live shared lessons of one catalogue scope (``domain.courses.catalogue_scope``)."""
        ...

    def backfill_catalogue(
        self, start: dict[str, Any] | None, limit: int, now: float
    ) -> tuple[int, int, dict[str, Any] | None]:
        """List in the catalogue the served shared lessons of one page of the library (``limit`` items read from
        ``start``): (items read, entries written, where the next page starts or None at the end). Idempotent."""
        ...


class RateCounter(Protocol):
    def consume(self, subject: str, windows: list[tuple[str, int, int]], cost: int, now: float) -> Consumed:
        """Count ``cost`` against every window ``(name, seconds, allowed)`` at once, or against none.

        Says which window had no room (nothing counted), if any, and each window's count after the charge."""
        ...


class BatchGenerator(Protocol):
    """A generator that can also work through the provider's Message Batches API (the background lane)."""

    def submit_batch(self, items: list[tuple[str, BatchRequest]]) -> str:
        """One batch of entries by custom_id: content requests, exam sections and course alignment judgements
        (their own prompt and schema)."""
        ...

    def batch_ended(self, batch_id: str) -> bool: ...

    def batch_results(self, batch_id: str, requests: dict[str, BatchRequest]) -> Iterator[BatchOutcome]: ...


class BatchStore(Protocol):
    def put_batch(self, batch_id: str, entries: dict[str, dict[str, Any]], now: float) -> None: ...

    def open_batches(self) -> list[tuple[str, float]]: ...

    def get_entries(self, batch_id: str) -> dict[str, dict[str, Any]]: ...

    def drop_entries(self, batch_id: str, custom_ids: list[str]) -> None:
        """Forget these entries of an open batch (an erased learner's): their results will not be stored."""
        ...

    def close_batch(self, batch_id: str, summary: dict[str, int], now: float) -> None: ...


class TransitionStore(Protocol):
    """Navigation counts of one scope (grade and subject) on one small item, added to atomically, read in one go."""

    def record(self, scope: str, visit: str | None, reached: list[tuple[str, str]], now: float) -> None: ...

    def read(self, scope: str) -> dict[str, TransitionCounts]: ...


class CourseStore(Protocol):
    """Courses and their parts (pregen.adapters.courses), and each owner's index of them."""

    def create(self, course: CourseRecord) -> None: ...

    def get(self, course_id: str) -> CourseRecord | None: ...

    def list_page(self, owner: str, limit: int, after: str | None) -> tuple[list[CourseRecord], str | None]: ...

    def start_generating(self, course_id: str, outline: dict[str, Any], plan: dict[str, Any], now: float) -> bool: ...

    def fail(self, course_id: str, now: float, *, reason: str | None = None) -> bool: ...

    def reopen(self, course_id: str, now: float) -> bool: ...

    def put_parts(self, course_id: str, parts: list[PartRecord], expires_at: float) -> None: ...

    def get_part(self, course_id: str, part_id: str) -> PartRecord | None: ...

    def read_parts(self, course_id: str, *, bodies: bool = False) -> list[PartRecord]: ...

    def finish_part(
        self,
        course_id: str,
        part_id: str,
        *,
        status: PartStatus,
        now: float,
        body: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        reused: bool | None = None,
        reason: str | None = None,
    ) -> bool: ...

    def reset_failed_parts(self, course_id: str, new_job_ids: dict[str, str]) -> int: ...

    def lease_assembly(self, course_id: str, worker_id: str, now: float, seconds: int) -> bool: ...

    def publish(
        self,
        course_id: str,
        *,
        validation: dict[str, Any],
        figures: dict[str, Any],
        worker_id: str,
        now: float,
        judging: list[str] | None = None,
    ) -> bool: ...

    # A background course's alignment judgements in Message Batches: claimed, recorded, their results kept.
    def claim_judgement_for_batch(
        self, course_id: str, part_id: str, owner: str, now: float, until: float
    ) -> BatchClaim: ...

    def release_judgement_claim(self, course_id: str, part_id: str, owner: str) -> None: ...

    def record_judgement_batch(
        self, course_id: str, part_id: str, claimer: str, batch_id: str, hold_until: float
    ) -> None: ...

    def put_judgement(self, course_id: str, part_id: str, result: dict[str, Any], expires_at: float) -> bool: ...

    def read_judgements(self, course_id: str) -> dict[str, dict[str, Any]]: ...

    def settle_alignment(self, course_id: str, *, validation: dict[str, Any], figures: dict[str, Any]) -> bool: ...

    def put_share(self, course_id: str, share: Share, expires_at: float, *, listed_at: float) -> None: ...

    def list_class_page(self, class_id: str, limit: int, after: str | None) -> tuple[list[tuple[str, str]], bool]:
        """One class's index of shared courses, newest first: (position, course id) lines and whether more follow."""
        ...

    def get_many(self, course_ids: list[str]) -> dict[str, CourseRecord]: ...

    def get_shares(self, course_id: str, share_ids: list[str]) -> list[Share]: ...

    def list_shares(self, course_id: str) -> list[Share]: ...

    def delete_share(self, course_id: str, share_id: str, *, listed_at: float) -> bool: ...

    def pin_part(self, course_id: str, part_id: str, version_id: str | None) -> bool: ...


class CoursePlanner(Protocol):
    name: str

    def plan_course(
        self, request: CourseRequest, *, offered: list[LibraryLesson] | None = None, max_calls: int | None = None
    ) -> Generation:
        """One structured call on the small tier: the course's outline (pregen.domain.courses.CourseOutline).
        ``offered``: the library's lessons the planner may reuse by key (``reuse_key``) instead of a new lesson."""
        ...


# -- the clock, the exam inventory, the cron's run state --


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


class ExamInventory(Protocol):
    def list_slots(self, owner: str, exam_type: str) -> tuple[int, list[ExamSlot]]: ...

    def create_slots(self, owner: str, exam_type: str, version: int, slots: list[ExamSlot]) -> bool: ...

    def get_slot(self, owner: str, exam_type: str, exam_id: str) -> ExamSlot | None: ...

    def fail_slot(
        self, owner: str, exam_type: str, exam_id: str, *, reason: str, now: float, expires_at: float
    ) -> bool: ...

    def promote_slot(self, owner: str, exam_type: str, exam_id: str, lane: Lane) -> bool: ...

    def claim(self, slot: ExamSlot, now: float, expires_at: float, counts: dict[str, int]) -> bool: ...

    def learner_exams(self, owner: str) -> LearnerExams: ...

    def fold_pending(self, owner: str, now: float) -> bool: ...

    def get_exam(self, exam_id: str) -> ExamRecord | None: ...

    def put_attempt(self, owner: str, attempt: Attempt) -> bool: ...

    def get_attempt(self, owner: str, exam_id: str) -> Attempt | None: ...

    def has_section(self, exam_id: str, index: int) -> bool: ...

    def put_section(self, slot: ExamSlot, index: int, body: dict[str, Any], meta: dict[str, Any]) -> bool: ...

    def read_sections(self, exam_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every stored section of the exam, in order: (body, figures)."""
        ...

    def claim_section_for_batch(self, exam_id: str, index: int, owner: str, now: float, until: float) -> BatchClaim:
        """Claim one section for a Message Batch (``JobStore.claim_for_batch``'s rules; ``job`` is always None)."""
        ...

    def release_section_claim(self, exam_id: str, index: int, owner: str) -> None: ...

    def record_section_batch(
        self, owner: str, spec: SectionSpec, claimer: str, batch_id: str, hold_until: float
    ) -> None:
        """The section is in ``batch_id`` (never claimed again); the slot stays generating until ``hold_until``."""
        ...

    def lease_assembly(self, slot: ExamSlot, worker_id: str, now: float, seconds: int) -> bool: ...

    def publish(
        self,
        slot: ExamSlot,
        body: dict[str, Any],
        meta: dict[str, Any],
        *,
        worker_id: str,
        now: float,
        expires_at: float,
        counts: dict[str, int],
    ) -> bool: ...


class LearnerData(Protocol):
    """Every table's items of one learner: listed page by page, and erased (``pregen.adapters.learners``)."""

    def page(
        self, sub: str, phase: int, part: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[int, int, dict[str, Any] | None] | None]: ...

    def erase(self, sub: str, now: float, *, job_ids: list[str], keys: list[str]) -> Erased: ...


class Erasures(Protocol):
    """Erasure tombstones, one per erased learner (``pregen.adapters.erasures``)."""

    def begin(self, sub: str, requested_at: float, *, by_admin: bool, expires_at: float) -> None: ...

    def pass_done(
        self, sub: str, pass_number: int, *, requested_at: float, final: bool, now: float, expires_at: float
    ) -> None: ...

    def mark_redriven(self, sub: str, pass_number: int, now: float) -> bool: ...

    def get(self, sub: str) -> ErasureStatus | None: ...


class ActivityIndex(Protocol):
    def record(self, sub: str, exam_types: list[str], day: str, now: float, expires_at: float) -> None: ...

    def shards(self) -> int: ...

    def page(self, day: str, shard: int, start: dict[str, Any] | None, limit: int) -> ActivityPage: ...


class SectionGenerator(Protocol):
    name: str

    def generate_section(self, spec: SectionSpec) -> Generation: ...


class RunState(Protocol):
    def get(self, task: str) -> dict[str, Any] | None: ...

    def save(self, task: str, state: dict[str, Any], version: int, now: float) -> bool: ...


class CronRuns(Protocol):
    """Operators' runs of cron tasks (``pregen.adapters.cron_runs``): one run per task at a time."""

    def start(self, run: CronRun, held_until: float) -> CronRun:
        """Write ``run`` as its task's run, or answer the task's run that has not ended."""
        ...

    def get(self, run_id: str) -> CronRun | None: ...

    def mark_running(self, run: CronRun) -> bool: ...

    def finish(self, run: CronRun) -> None: ...


class TaskQueue(Protocol):
    """The operator tasks' queue: the cron function consumes it one message at a time."""

    def send(self, message: dict[str, Any]) -> None: ...
