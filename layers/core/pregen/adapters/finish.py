"""A generation's writes around its model call (issue 34: a generation makes at most 5 requests around it): before
it, the lease and the job's ``generating`` mark in one write; after it, everything else in one ``TransactWriteItems``:

::

    content, stats (+ version, its counter item, a first shared lesson's catalogue entry)   content table
    the near-duplicates index entry (a shared item in a bucket)                              content table
    the job done, with its attempt            (if the job still exists)                      jobs table
    the lease ended                           (if this delivery still holds it)              content table
    the learner not erased since the job began: a ConditionCheck on their tombstone          counters table
    the learner's cost item, the day's and the expiry day's counters (a random shard each)   counters table

All or nothing, so a condition that does not hold cancels the lot: the cancellation names the item, and the
transaction goes again without what that condition guards, as the separate conditional writes it replaces did --
a job that is gone is not written (nor recreated), a lease another delivery took over is left to it, a learner
erased since the job began gets no cost item and, for their personal content, nothing of theirs. Two transactions
writing one item at once cancel with ``TransactionConflict`` (the day's counters are every generation's; botocore
does not retry it): tried again after a jittered wait, and if conflicts outlast the retries, everything else goes
in one transaction and the day's counters as separate updates (``FinishWritten.counters_apart``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import ConflictRetry, cancellation_codes
from pregen.domain.models import JobStatus
from pregen.domain.records import FinishWritten

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.adapters.content import DynamoContentStore
    from pregen.adapters.counters import DynamoCounters
    from pregen.adapters.erasures import DynamoErasures
    from pregen.adapters.jobs import DynamoJobStore
    from pregen.adapters.library import DynamoLibraryStore
    from pregen.adapters.near import DynamoNearStore
    from pregen.domain.records import FinishedGeneration

# What each item of the transaction is, so a cancellation's reasons say what to leave out.
CONTENT, NEAR, JOB, LEASE, ERASURE, LEARNER, COUNTERS = "content", "near", "job", "lease", "erasure", "learner", "day"
_OPTIONAL = {JOB, LEASE, ERASURE}  # conditions whose failure drops what they guard, not the whole write


class DynamoGenerationWrites:
    CONFLICTS = ConflictRetry(retries=4, low_s=0.02, high_s=0.1)

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        store: DynamoContentStore,
        jobs: DynamoJobStore,
        counters: DynamoCounters,
        erasures: DynamoErasures | None = None,
        library: DynamoLibraryStore | None = None,
        near: DynamoNearStore | None = None,
    ) -> None:
        self.client = client
        self.store, self.jobs, self.counters = store, jobs, counters
        self.erasures, self.library, self.near = erasures, library, near

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
        mark = _counting_the_lease(self.jobs.status_update(job_id, JobStatus.GENERATING, now, attempts=attempts))
        return self.store.acquire_lease(
            key, job_id, worker_id, now, lease_seconds, unless_cached=unless_cached, also=[{"Update": mark}]
        )

    def lease_fresh(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, attempts: int
    ) -> bool:
        """The lease and the mark, only for a job as its claim wrote it (queued, no model call yet), the key without
        content, all in one write and with no read before; False, nothing written, otherwise."""
        mark = _counting_the_lease(self.jobs.status_update(job_id, JobStatus.GENERATING, now, attempts=attempts))
        mark["ConditionExpression"] = "attribute_exists(pk) AND #status = :queued AND model_calls = :none"
        mark["ExpressionAttributeValues"] |= {":queued": {"S": JobStatus.QUEUED.value}, ":none": {"N": "0"}}
        mark["ExpressionAttributeValues"].pop(":done", None)
        return self.store.lease_unless_cached_with(key, job_id, worker_id, now, lease_seconds, also=[{"Update": mark}])

    def finish(self, done: FinishedGeneration) -> FinishWritten:
        parts = self._parts(done)
        refused, conflicts = False, 0
        while True:
            try:
                self.client.transact_write_items(TransactItems=[item for _, item in parts])
            except ClientError as exc:
                codes = cancellation_codes(exc)
                if codes is None:
                    raise
                failed = {tag for (tag, _), code in zip(parts, codes, strict=False) if code == "ConditionalCheckFailed"}
                if failed and failed <= _OPTIONAL:
                    if ERASURE in failed:
                        refused = True
                        failed |= {LEARNER} | ({CONTENT, NEAR, JOB} if _personal(done) else set())
                    parts = [part for part in parts if part[0] not in failed]
                    continue
                if not failed and set(codes) <= {"TransactionConflict", "None"}:
                    conflicts += 1
                    if self.CONFLICTS.wait(conflicts):
                        continue
                    if any(tag == COUNTERS for tag, _ in parts):
                        self._counters_apart(parts)
                        return FinishWritten(refused=refused, conflicts=conflicts, counters_apart=True)
                raise
            return FinishWritten(refused=refused, conflicts=conflicts)

    def _counters_apart(self, parts: list[tuple[str, Any]]) -> None:
        """Conflicts outlasted the retries: everything but the day's counters in one transaction (retried on its
        own conflicts), then each counter an UpdateItem (ADD: no condition, nothing to conflict with but a
        transaction in flight, which botocore's retries wait out)."""
        rest = [item for tag, item in parts if tag != COUNTERS]
        tries = 0
        while True:
            try:
                self.client.transact_write_items(TransactItems=rest)
                break
            except ClientError as exc:
                codes = set(cancellation_codes(exc) or ["other"])
                tries += 1
                if not (codes <= {"TransactionConflict", "None"} and self.CONFLICTS.wait(tries)):
                    raise
        for tag, item in parts:
            if tag == COUNTERS:
                self.client.update_item(**item["Update"])

    def _parts(self, done: FinishedGeneration) -> list[tuple[str, Any]]:
        parts: list[tuple[str, Any]] = []
        if done.content is not None:
            if done.version is not None and self.library is not None:
                parts += [(CONTENT, item) for item in self.library.version_writes(done.content, done.version)]
            parts += [(CONTENT, item) for item in self.store.content_writes(done.content)]
        if done.near is not None and self.near is not None:
            parts.append((NEAR, {"Put": self.near.entry_put(*done.near)}))
        job = self.jobs.status_update(done.job_id, JobStatus.DONE, done.finished, meta=done.meta, attempt=done.attempt)
        parts.append((JOB, {"Update": job}))
        parts.append((LEASE, {"Delete": self.store.lease_end(done.key, done.worker_id)}))
        if done.learner and done.learner_counts:
            if self.erasures is not None:
                check = self.erasures.not_erased_since(done.learner, done.started_at)
                parts.append((ERASURE, {"ConditionCheck": check}))
            pk, sk = f"learner#{done.learner}", f"day#{done.day}"
            learner = self.counters.update_request(pk, done.learner_counts, done.finished, sk=sk)
            parts.append((LEARNER, {"Update": learner}))
        for day, counts in done.day_counts.items():
            if counts:
                parts.append((COUNTERS, self.counters.shard_update(f"day#{day}", counts, done.finished)))
        return parts


def _personal(done: FinishedGeneration) -> bool:
    return done.content is not None and done.content.owner is not None and done.content.owner == done.learner


def _counting_the_lease(mark: dict[str, Any]) -> dict[str, Any]:
    """The job's ``generating`` mark also counts the delivery that took the lease (``Job.leases``): one killed before
    it settled recorded no calls, and the cap counts it as at least one (``services.generation``)."""
    assert " ADD " not in mark["UpdateExpression"]  # (a lease's mark records no attempt)
    mark["UpdateExpression"] += " ADD leases :lease"
    mark["ExpressionAttributeValues"] |= {":lease": {"N": "1"}}
    return mark
