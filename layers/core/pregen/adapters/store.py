"""DynamoDB adapters for content, jobs and counters: the one place that talks to DynamoDB.

Content table items (partition key ``pk`` = cache key, sort key ``sk``):

- ``content``  the compressed body and its generation figures; never rewritten by a read.
- ``stats``    usage count and last access, added from the hit lines of the log (``pregen.usage_log``).
- ``inflight`` the key's queued/generating marker and the worker's lease.

Every item carries ``expires_at`` (epoch seconds), the table's TTL attribute. DynamoDB deletes lazily (up to
~48 h late), so every read checks ``expires_at`` in code as well.
"""

from __future__ import annotations

import random
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pregen.domain.codec import compress, decompress
from pregen.domain.errors import LeaseHeld
from pregen.domain.models import Job, JobStatus, Lane
from pregen.domain.records import InflightClaim, StoredContent

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.usage_log import KeyHits

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_ddb(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers) on the way in."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_ddb(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    """Decimals come back as int or float, so the domain never sees Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in _to_ddb(item).items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_ddb(_deserializer.deserialize(v)) for k, v in item.items()}


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def conditional(write: Callable[..., Any], **request: Any) -> bool:
    """Run a conditional write; False when its condition did not hold (the expected "someone else" outcome)."""
    try:
        write(**request)
    except ClientError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def cancellation_codes(exc: ClientError) -> list[str] | None:
    """The per-item reasons of a cancelled transaction (``"None"`` for an item that was fine), in the order of its
    items; None when the error is something else."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons: list[Any] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
    return [str(r.get("Code") or "None") for r in reasons]


def applied_marker(table: str, pk: str, expires_at: float) -> dict[str, Any]:
    """The first item of an exactly-once transaction: a marker that must not exist yet. A batch delivered again
    finds it, and its transaction is cancelled with ``ConditionalCheckFailed`` on item 0."""
    item = {"pk": {"S": pk}, "sk": {"S": "applied"}, "expires_at": {"N": str(int(expires_at))}}
    return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def content_item(content: StoredContent, sk: str = "content") -> dict[str, Any]:
    """The item holding a content body (compressed) and its figures; also the shape of a library version."""
    item: dict[str, Any] = {
        "pk": {"S": content.key},
        "sk": {"S": sk},
        "kind": {"S": content.kind},
        "body": {"B": compress(content.body)},
        "meta": {"M": serialize(content.meta)},
        "created_at": {"N": str(int(content.created_at))},
        "expires_at": {"N": str(int(content.expires_at))},
    }
    if content.owner:
        item["owner"] = {"S": content.owner}
    return item


def content_from_item(key: str, item: dict[str, Any]) -> StoredContent:
    return StoredContent(
        key=key,
        kind=item["kind"]["S"],
        body=decompress(item["body"]["B"]),
        meta=deserialize(dict(item["meta"]["M"])) if "meta" in item else {},
        owner=item["owner"]["S"] if "owner" in item else None,
        created_at=float(item["created_at"]["N"]),
        expires_at=float(item["expires_at"]["N"]),
    )


def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")


class DynamoContentStore:
    """Content bodies, usage counters, in-flight markers and leases, all in the content table."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    # -- serving ---------------------------------------------------------------------------------------------------

    def get_content(self, key: str, now: float, *, consistent: bool = False) -> StoredContent | None:
        response = self.client.get_item(
            TableName=self.table, Key={"pk": {"S": key}, "sk": {"S": "content"}}, ConsistentRead=consistent
        )
        item = response.get("Item")
        if item is None:
            return None
        expires_at = float(item["expires_at"]["N"])
        if expires_at <= now:  # past its TTL but not yet deleted by DynamoDB: never served
            return None
        meta = deserialize(dict(item["meta"]["M"])) if "meta" in item else {}
        return StoredContent(
            key=key,
            kind=item["kind"]["S"],
            body=decompress(item["body"]["B"]),
            meta=meta,
            owner=item["owner"]["S"] if "owner" in item else None,
            created_at=float(item["created_at"]["N"]),
            expires_at=expires_at,
        )

    def get_stats(self, key: str) -> dict[str, Any]:
        item = self.client.get_item(TableName=self.table, Key={"pk": {"S": key}, "sk": {"S": "stats"}}).get("Item")
        return deserialize(item) if item else {}

    def put_content(self, content: StoredContent) -> None:
        item = content_item(content)
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": item}},
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": {"S": content.key},
                            "sk": {"S": "stats"},
                            "hits": {"N": "0"},
                            # kind and cost ride on the stats item so the usage aggregator (reading the
                            # table's stream) can count hits per kind and the cost each hit saved.
                            "kind": {"S": content.kind},
                            "cost_usd": {"N": str(Decimal(str(content.meta.get("cost_usd", 0) or 0)))},
                            "created_at": {"N": str(int(content.created_at))},
                            "expires_at": {"N": str(int(content.expires_at))},
                        },
                    }
                },
            ]
        )

    # -- in flight and leases ---------------------------------------------------------------------------------------
    #
    #  miss ──claim_inflight──▶ {state=queued, job_id, lane, expires_at=now+hold}
    #                                   │  (a second miss fails the condition and joins job_id)
    #  worker ──acquire_lease──▶ {state=generating, lease_owner=w, lease_until=now+lease, expires_at=lease_until}
    #                                   │  (another delivery of the key fails the condition: LeaseHeld)
    #  worker ──end_lease─────▶ (deleted)          worker fails ──requeue_lease──▶ {state=queued}
    #
    # A marker whose expires_at has passed counts as absent: its holder crashed, and TTL may not have run yet.

    def _inflight_key(self, key: str) -> dict[str, Any]:
        return {"pk": {"S": key}, "sk": {"S": "inflight"}}

    def get_inflight(self, key: str, now: float) -> InflightClaim | None:
        """The live in-flight marker of a key (``won`` is False: it is someone's), or None."""
        item = self.client.get_item(TableName=self.table, Key=self._inflight_key(key), ConsistentRead=True).get("Item")
        if item is None or float(item["expires_at"]["N"]) < now:
            return None
        return InflightClaim(won=False, job_id=item["job_id"]["S"], lane=item["lane"]["S"])

    def claim_inflight(self, key: str, job_id: str, lane: Lane, now: float, hold_seconds: int) -> InflightClaim:
        try:
            self.client.put_item(
                TableName=self.table,
                Item={
                    **self._inflight_key(key),
                    "state": {"S": "queued"},
                    "job_id": {"S": job_id},
                    "lane": {"S": lane.value},
                    "expires_at": {"N": str(int(now + hold_seconds))},
                },
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            old: dict[str, Any] = exc.response.get("Item", {})  # type: ignore[assignment]
            return InflightClaim(won=False, job_id=old["job_id"]["S"], lane=old["lane"]["S"])
        return InflightClaim(won=True, job_id=job_id, lane=lane.value)

    def take_over_inflight(
        self, key: str, stale_job_id: str, job_id: str, lane: Lane, *, now: float, hold_seconds: int
    ) -> bool:
        """Replace a marker whose job record is missing (a crash between claim and job write)."""
        return conditional(
            self.client.put_item,
            TableName=self.table,
            Item={
                **self._inflight_key(key),
                "state": {"S": "queued"},
                "job_id": {"S": job_id},
                "lane": {"S": lane.value},
                "expires_at": {"N": str(int(now + hold_seconds))},
            },
            ConditionExpression="job_id = :stale AND #state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":stale": {"S": stale_job_id}, ":queued": {"S": "queued"}},
        )

    def promote_inflight(self, key: str, job_id: str, lane: Lane) -> bool:
        """Move a queued key to a faster lane; True if this call did it (and so must send the message)."""
        return conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            UpdateExpression="SET lane = :lane",
            ConditionExpression="job_id = :job AND lane <> :lane AND #state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":lane": {"S": lane.value}, ":job": {"S": job_id}, ":queued": {"S": "queued"}},
        )

    def hold_inflight(self, key: str, job_id: str, until: float) -> bool:
        """Keep a queued key in flight until ``until`` (a job waiting in a Message Batch, up to 24 h), so background
        requests join it instead of batching it again. A learner's miss still promotes it to the interactive lane."""
        return conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            UpdateExpression="SET expires_at = :until",
            ConditionExpression="job_id = :job AND #state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":until": {"N": str(int(until))},
                ":job": {"S": job_id},
                ":queued": {"S": "queued"},
            },
        )

    def release_inflight(self, key: str, job_id: str) -> None:
        """Drop a marker this job placed (enqueue failed, or the job failed for good)."""
        conditional(
            self.client.delete_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            ConditionExpression="job_id = :job",
            ExpressionAttributeValues={":job": {"S": job_id}},
        )

    def acquire_lease(self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int) -> None:
        until = str(int(now + lease_seconds))
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._inflight_key(key),
                UpdateExpression=(
                    "SET #state = :generating, lease_owner = :w, lease_until = :until, expires_at = :until, "
                    "job_id = if_not_exists(job_id, :job), lane = if_not_exists(lane, :lane)"
                ),
                ConditionExpression=(
                    "attribute_not_exists(pk) OR #state = :queued OR lease_until < :now OR lease_owner = :w "
                    "OR expires_at < :now"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":generating": {"S": "generating"},
                    ":queued": {"S": "queued"},
                    ":w": {"S": worker_id},
                    ":until": {"N": until},
                    ":now": {"N": str(int(now))},
                    ":job": {"S": job_id},
                    ":lane": {"S": Lane.INTERACTIVE.value},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if _condition_failed(exc):
                old: dict[str, Any] = exc.response.get("Item", {})  # type: ignore[assignment]
                holder = old.get("lease_owner", {}).get("S", "?")
                raise LeaseHeld(f"key {key} is being generated by {holder}") from exc
            raise

    def end_lease(self, key: str, worker_id: str) -> None:
        conditional(
            self.client.delete_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            ConditionExpression="lease_owner = :w",
            ExpressionAttributeValues={":w": {"S": worker_id}},
        )

    def requeue_lease(self, key: str, worker_id: str) -> None:
        """Give the key back after a failed attempt so the redelivered message can try again at once."""
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            UpdateExpression="SET #state = :queued REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :w",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":queued": {"S": "queued"}, ":w": {"S": worker_id}},
        )


class DynamoJobStore:
    """Job records: ``pk`` = ``job#<id>``, ``sk`` = ``job``, expiring after the job TTL."""

    def __init__(self, table_name: str, ttl_days: int, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.ttl_seconds = ttl_days * 86_400
        self.client = client or dynamodb_client()

    @staticmethod
    def _key(job_id: str) -> dict[str, Any]:
        return {"pk": {"S": f"job#{job_id}"}, "sk": {"S": "job"}}

    def put_job(self, job: Job) -> None:
        item = serialize({**job.model_dump(mode="json"), "expires_at": int(job.created_at + self.ttl_seconds)})
        self.client.put_item(TableName=self.table, Item={**item, **self._key(job.job_id)})

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
    ) -> None:
        """Move a job on. A job that is done stays done: a late failure of a duplicate delivery cannot undo it."""
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
        condition = "attribute_exists(pk)"
        if status is not JobStatus.DONE:
            condition += " AND #status <> :done"
            values[":done"] = JobStatus.DONE.value
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._key(job_id),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize(values),
        )


GAUGES_PK = "gauges"  # standing totals (users with pre-generated exams, ...), fed by the features that own them


class DynamoCounters:
    """Analytics counters: one small item per day, numbers added atomically as work happens (never a scan)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, retention_days: int = 400) -> None:
        self.table = table_name
        self.retention_seconds = retention_days * 86_400
        self.client = client or dynamodb_client()

    def add(self, day: str, counts: dict[str, int | float], now: float, *, item: str = "totals") -> None:
        """Add to the day's ``totals`` item, or to another small item of that day (e.g. ``learner#<sub>``: one per
        learner, since a million learners would not fit in one 400 KB item)."""
        if not counts:
            return
        self.client.update_item(**self._add_request(f"day#{day}", counts, now, sk=item))

    def add_gauges(self, counts: dict[str, int | float], now: float) -> None:
        """Add (or, with negative numbers, take away) from the standing totals that are not per day."""
        if counts:
            self.client.update_item(**self._add_request(GAUGES_PK, counts, now))

    def _add_request(self, pk: str, counts: dict[str, int | float], now: float, sk: str = "totals") -> dict[str, Any]:
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":v{i}": {"N": str(Decimal(str(v)))} for i, v in enumerate(counts.values())}
        values[":exp"] = {"N": str(int(now + self.retention_seconds))}
        adds = ", ".join(f"#c{i} :v{i}" for i in range(len(counts)))
        return {
            "TableName": self.table,
            "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
            "UpdateExpression": f"ADD {adds} SET expires_at = if_not_exists(expires_at, :exp)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def add_once(self, batch_id: str, per_day: dict[str, dict[str, int | float]], now: float) -> bool:
        """Add several days' counts exactly once per ``batch_id`` (one transaction with a marker item).

        A stream batch that Lambda delivers again (the function failed after the write) finds its marker and
        adds nothing, so at-least-once delivery still counts each change once. False when already applied.
        """
        per_day = {day: counts for day, counts in per_day.items() if counts}
        if not per_day:
            return True
        # Longer than a stream's 24 h retention.
        items: list[Any] = [applied_marker(self.table, f"batch#{batch_id}", now + 7 * 86_400)]
        items += [{"Update": self._add_request(f"day#{day}", counts, now)} for day, counts in per_day.items()]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if (cancellation_codes(exc) or [])[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def read_days(self, days: list[str]) -> dict[str, dict[str, float]]:
        """One BatchGetItem per 100 days, whatever the number of items stored."""
        found = self.read_items([f"day#{d}" for d in days])
        return {pk.removeprefix("day#"): counts for pk, counts in found.items()}

    def read_gauges(self) -> dict[str, float]:
        return self.read_items([GAUGES_PK]).get(GAUGES_PK, {})

    def read_items(self, pks: list[str]) -> dict[str, dict[str, float]]:
        """Counter items by partition key: one BatchGetItem per 100 keys, never a query or a scan."""
        result: dict[str, dict[str, float]] = {}
        unique = list(dict.fromkeys(pks))
        for start in range(0, len(unique), 100):
            keys = [{"pk": {"S": pk}, "sk": {"S": "totals"}} for pk in unique[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    data = deserialize(item)
                    pk = str(data.pop("pk"))
                    data.pop("sk", None)
                    data.pop("expires_at", None)
                    result[pk] = {k: float(v) for k, v in data.items()}
                request = response.get("UnprocessedKeys") or {}
        return result


class DynamoHitCounter:
    """Adds logged hits (``pregen.usage_log``) to the keys' ``stats`` items, exactly once per delivered batch.

    Each transaction holds a marker item (counters table) and up to 99 ``ADD hits`` updates; a batch delivered
    again finds its markers and adds nothing. A key whose stats item is gone (TTL deleted it between the hit and
    the count) is dropped rather than recreated without an expiry.
    """

    CHUNK = 99  # DynamoDB's 100 items per transaction, less the marker
    CONFLICT_RETRIES = 5
    MARKER_DAYS = 15

    def __init__(self, content_table: str, counters_table: str, client: DynamoDBClient | None = None) -> None:
        self.content_table = content_table
        self.counters_table = counters_table
        self.client = client or dynamodb_client()

    def add(self, batch_id: str, hits: dict[str, KeyHits], now: float) -> int:
        """Returns the hits added (0 for a batch already applied)."""
        keys = sorted(hits)
        added = 0
        for start in range(0, len(keys), self.CHUNK):
            chunk = {k: hits[k] for k in keys[start : start + self.CHUNK]}
            added += self._add_chunk(f"hits#{batch_id}#{start // self.CHUNK}", chunk, now)
        return added

    def _add_chunk(self, marker_pk: str, chunk: dict[str, KeyHits], now: float) -> int:
        conflicts = 0
        while chunk:
            try:
                self.client.transact_write_items(TransactItems=self._chunk_items(marker_pk, chunk, now))
            except ClientError as exc:
                codes = cancellation_codes(exc)
                if not codes:
                    raise
                if codes[0] == "ConditionalCheckFailed":
                    return 0  # the marker exists: this chunk was applied by an earlier delivery
                gone = {key for key, code in zip(chunk, codes[1:], strict=False) if code == "ConditionalCheckFailed"}
                if gone:
                    chunk = {k: h for k, h in chunk.items() if k not in gone}
                    continue
                # Batches of several log streams are delivered at once, and a popular key is in most of them:
                # two transactions on one stats item cancel each other (TransactionConflict), which botocore
                # does not retry. Retry here, with jitter, before letting the batch fail to Lambda's retries.
                if all(code in {"TransactionConflict", "None"} for code in codes) and conflicts < self.CONFLICT_RETRIES:
                    conflicts += 1
                    time.sleep(random.uniform(0.05, 0.2) * conflicts)
                    continue
                raise
            return sum(h.count for h in chunk.values())
        return 0

    def _chunk_items(self, marker_pk: str, chunk: dict[str, KeyHits], now: float) -> list[Any]:
        # Longer than a failed batch can wait in UsageDeadLetterQueue (14 days): a replay adds nothing twice.
        items: list[Any] = [applied_marker(self.counters_table, marker_pk, now + self.MARKER_DAYS * 86_400)]
        items += [
            {
                "Update": {
                    "TableName": self.content_table,
                    "Key": {"pk": {"S": key}, "sk": {"S": "stats"}},
                    "UpdateExpression": "ADD hits :n SET last_access = :at",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":n": {"N": str(h.count)}, ":at": {"N": str(h.last_at)}},
                }
            }
            for key, h in chunk.items()
        ]
        return items
