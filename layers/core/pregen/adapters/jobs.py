"""The jobs table's adapter: a job as the API shows it (status, reason, attempts, figures), expiring after its TTL."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import (
    BatchClaimShape,
    claim_for_batch,
    conditional,
    deserialize,
    dynamodb_client,
    lost_batch_claim,
    release_batch_claim,
    serialize,
    string,
)
from pregen.domain.models import Job, JobStatus
from pregen.domain.records import BatchClaim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# A job is claimed for a batch only while queued (or failed, to be tried again), never once generating or done.
_BATCH_CLAIM = BatchClaimShape(
    owner="batch_claim",
    until="batch_claim_until",
    also_set="updated_at = :now",
    also_condition="attribute_exists(pk) AND (#status = :queued OR #status = :failed)",
    names=(("#status", "status"),),
    values=((":queued", JobStatus.QUEUED.value), (":failed", JobStatus.FAILED.value)),
)


class DynamoJobStore:
    """Job records: ``pk`` = ``job#<id>``, ``sk`` = ``job``, expiring after the job TTL."""

    def __init__(self, table_name: str, ttl_days: int, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.ttl_seconds = ttl_days * 86_400
        self.client = client or dynamodb_client()

    @staticmethod
    def _key(job_id: str) -> dict[str, Any]:
        return {"pk": string(f"job#{job_id}"), "sk": string("job")}

    def item(self, job: Job) -> dict[str, Any]:
        """The job's item, as ``put_job`` writes it (and ``pregen.adapters.claims`` with the key's marker)."""
        item = serialize({**job.model_dump(mode="json"), "expires_at": int(job.created_at + self.ttl_seconds)})
        if job.owner:  # a personal job: found by the table's learner index (a learner's data, listed and erased)
            item["learner"] = string(job.owner)
        return {**item, **self._key(job.job_id)}

    def put_job(self, job: Job) -> None:
        self.client.put_item(TableName=self.table, Item=self.item(job))

    def delete_job(self, job_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=self._key(job_id))

    def get_job(self, job_id: str) -> Job | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(job_id), ConsistentRead=True).get("Item")
        return _job(item) if item is not None else None

    def claim_for_batch(self, job_id: str, owner: str, now: float, until: float) -> BatchClaim:
        """One UpdateItem (``ddb.claim_for_batch``): ``batch_claim`` (the owner) until ``batch_claim_until`` when the
        job is queued or failed, has no ``batch_id`` and no live claim; the old item says why when it is not."""
        old = claim_for_batch(
            self.client, self.table, self._key(job_id), _BATCH_CLAIM, owner=owner, now=now, until=until
        )
        if old is None:
            return BatchClaim(won=True)
        if not old:
            return BatchClaim(won=False)
        return replace(lost_batch_claim(old, until="batch_claim_until"), job=_job(old))

    def release_batch_claim(self, job_id: str, owner: str) -> None:
        release_batch_claim(self.client, self.table, self._key(job_id), _BATCH_CLAIM, owner)

    def record_batch(self, job_id: str, batch_id: str, now: float, *, reason: str, hold_until: float) -> None:
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(job_id),
            UpdateExpression=(
                "SET #status = :queued, reason = :reason, updated_at = :now, batch_id = :batch,"
                " batch_claim_until = :hold"
            ),
            ConditionExpression="attribute_exists(pk) AND #status <> :done",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize(
                {
                    ":queued": JobStatus.QUEUED.value,
                    ":reason": reason[:1000],
                    ":now": now,
                    ":batch": batch_id,
                    ":hold": hold_until,
                    ":done": JobStatus.DONE.value,
                }
            ),
        )

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
        """Move a job on. A job that is done stays done: a late failure of a duplicate delivery cannot undo it.
        ``attempt`` (an entry of the history, its model calls): recorded in the same UpdateItem, as
        ``record_attempt`` records it (a generation's end: its status and its attempt in one write)."""
        conditional(
            self.client.update_item,
            **self.status_update(
                job_id,
                status,
                now,
                reason=reason,
                attempts=attempts,
                meta=meta,
                next_attempt_at=next_attempt_at,
                attempt=attempt,
            ),
        )

    def status_update(self, job_id: str, status: JobStatus, now: float, **changes: Any) -> dict[str, Any]:
        """The UpdateItem (or a transaction's Update) of ``set_status`` (``changes``: its keyword arguments):
        conditional on the job existing and, unless it is the move to done, on it not being done."""
        reason, attempts, meta = changes.get("reason"), changes.get("attempts"), changes.get("meta")
        next_attempt_at, attempt = changes.get("next_attempt_at"), changes.get("attempt")
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": status.value, ":now": now}
        sets = ["#status = :status", "updated_at = :now"]
        if reason is not None:
            sets.append("reason = :reason")
            values[":reason"] = reason[:1000]
        if attempts is not None:
            sets.append("attempts = :attempts")
            values[":attempts"] = attempts
        if meta is not None:
            sets.append("meta = :meta")
            values[":meta"] = meta
        if next_attempt_at is not None:
            sets.append("next_attempt_at = :next")
            values[":next"] = next_attempt_at
        update = "SET " + ", ".join(sets)
        if attempt is not None:
            values |= {":calls": attempt[1], ":one": [attempt[0]], ":none": []}
            update = update.replace("SET ", "SET history = list_append(if_not_exists(history, :none), :one), ", 1)
            update += " ADD model_calls :calls"
            if next_attempt_at is None:
                update += " REMOVE next_attempt_at"
        condition = "attribute_exists(pk)"
        if status is not JobStatus.DONE:
            condition += " AND #status <> :done"
            values[":done"] = JobStatus.DONE.value
        return {
            "TableName": self.table,
            "Key": self._key(job_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
        }

    def record_attempt(
        self, job_id: str, attempt: dict[str, Any], *, calls: int, now: float, next_attempt_at: float | None = None
    ) -> int:
        """One UpdateItem: ADD the calls, append the attempt (the history stays short: a job makes at most the cap
        of model calls, and each delivery one entry), set or clear ``next_attempt_at``."""
        values: dict[str, Any] = {":calls": calls, ":one": [attempt], ":none": [], ":now": now}
        update = (
            "ADD model_calls :calls SET history = list_append(if_not_exists(history, :none), :one), updated_at = :now"
        )
        if next_attempt_at is None:
            update += " REMOVE next_attempt_at"
        else:
            update += ", next_attempt_at = :next"
            values[":next"] = next_attempt_at
        try:
            answer = self.client.update_item(
                TableName=self.table,
                Key=self._key(job_id),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=serialize(values),
                ReturnValues="UPDATED_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return 0
        return int(deserialize(answer.get("Attributes") or {}).get("model_calls") or 0)


def _job(item: dict[str, Any]) -> Job:
    data = deserialize(item)
    return Job.model_validate({k: v for k, v in data.items() if k in Job.model_fields})
