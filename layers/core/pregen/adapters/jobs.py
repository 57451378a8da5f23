"""The jobs table's adapter: a job as the API shows it (status, reason, attempts, figures), expiring after its TTL."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import conditional, deserialize, dynamodb_client, serialize, string
from pregen.domain.models import Job, JobStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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
        if item is None:
            return None
        data = deserialize(item)
        return Job.model_validate({k: v for k, v in data.items() if k in Job.model_fields})

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
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(job_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
        )

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
