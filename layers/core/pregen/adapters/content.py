"""The content table's adapter for serving and generating: the served body, its stats, the in-flight marker and
the worker's lease (the library's versions and votes, in the same table, are ``pregen.adapters.library``).

Content table items (partition key ``pk`` = cache key, sort key ``sk``):

- ``content``  the compressed body and its generation figures; never rewritten by a read.
- ``stats``    usage count and last access, added from the hit lines of the log (``pregen.usage_log``).
- ``inflight`` the key's queued/generating marker and the worker's lease.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import (
    cancellation_codes,
    condition_failed,
    conditional,
    content_from_item,
    content_item,
    deserialize,
    dynamodb_client,
    number,
    string,
    whole,
)
from pregen.domain.errors import LeaseHeld
from pregen.domain.models import Lane
from pregen.domain.records import InflightClaim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.domain.records import StoredContent


class DynamoContentStore:
    """Content bodies, usage counters, in-flight markers and leases, all in the content table."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    # -- serving ---------------------------------------------------------------------------------------------------

    def get_content(self, key: str, now: float, *, consistent: bool = False) -> StoredContent | None:
        response = self.client.get_item(
            TableName=self.table, Key={"pk": string(key), "sk": string("content")}, ConsistentRead=consistent
        )
        item = response.get("Item")
        if item is None:
            return None
        if float(item["expires_at"]["N"]) <= now:  # past its TTL but not yet deleted by DynamoDB: never served
            return None
        return content_from_item(key, item)

    def get_stats(self, key: str) -> dict[str, Any]:
        item = self.client.get_item(TableName=self.table, Key={"pk": string(key), "sk": string("stats")}).get("Item")
        return deserialize(item) if item else {}

    def put_content(self, content: StoredContent) -> None:
        self.client.transact_write_items(TransactItems=self.content_writes(content))

    def content_writes(self, content: StoredContent) -> list[Any]:
        """The transaction items that store a key's served content: its body and its ``stats`` item."""
        return [
            {"Put": {"TableName": self.table, "Item": content_item(content)}},
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "pk": string(content.key),
                        "sk": string("stats"),
                        "hits": {"N": "0"},
                        # kind and cost ride on the stats item so the usage aggregator (reading the
                        # table's stream) can count hits per kind and the cost each hit saved.
                        "kind": string(content.kind),
                        "cost_usd": number(content.meta.get("cost_usd", 0) or 0),
                        "created_at": whole(content.created_at),
                        "expires_at": whole(content.expires_at),
                    },
                }
            },
        ]

    # -- in flight and leases ---------------------------------------------------------------------------------------
    #
    #  miss ──claim_inflight──▶ {state=queued, job_id, lane, claimed_at=now, expires_at=now+hold}
    #                                   │  (a second miss fails the condition and joins job_id)
    #  worker ──acquire_lease──▶ {state=generating, lease_owner=w, lease_until=now+lease, expires_at=lease_until}
    #                                   │  (another delivery of the key fails the condition: LeaseHeld)
    #  worker ──end_lease─────▶ (deleted)          worker fails ──requeue_lease──▶ {state=queued}
    #
    # A marker whose expires_at has passed counts as absent: its holder crashed, and TTL may not have run yet.

    def _inflight_key(self, key: str) -> dict[str, Any]:
        return inflight_key(key)

    def _queued_marker(self, key: str, job_id: str, lane: Lane, now: float, until: float) -> dict[str, Any]:
        return queued_marker(key, job_id, lane, now, until)

    @staticmethod
    def _someones(item: dict[str, Any]) -> InflightClaim:
        return someones(item)

    def get_inflight(self, key: str, now: float) -> InflightClaim | None:
        """The live in-flight marker of a key (``won`` is False: it is someone's), or None."""
        item = self.client.get_item(TableName=self.table, Key=self._inflight_key(key), ConsistentRead=True).get("Item")
        if item is None or float(item["expires_at"]["N"]) < now:
            return None
        return self._someones(item)

    def claim_inflight(self, key: str, job_id: str, lane: Lane, now: float, hold_seconds: int) -> InflightClaim:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=self._queued_marker(key, job_id, lane, now, now + hold_seconds),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": whole(now)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            old: dict[str, Any] = exc.response.get("Item", {})  # type: ignore[assignment]
            return self._someones(old)
        return InflightClaim(won=True, job_id=job_id, lane=lane.value, claimed_at=now)

    def take_over_inflight(
        self, key: str, stale_job_id: str, job_id: str, lane: Lane, *, now: float, hold_seconds: int
    ) -> bool:
        """Replace a marker whose job record is missing (a crash between claim and job write)."""
        return conditional(
            self.client.put_item,
            TableName=self.table,
            Item=self._queued_marker(key, job_id, lane, now, now + hold_seconds),
            ConditionExpression="job_id = :stale AND #state = :queued",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":stale": string(stale_job_id), ":queued": string("queued")},
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
            ExpressionAttributeValues={
                ":lane": string(lane.value),
                ":job": string(job_id),
                ":queued": string("queued"),
            },
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
                ":until": whole(until),
                ":job": string(job_id),
                ":queued": string("queued"),
            },
        )

    def release_inflight(self, key: str, job_id: str) -> None:
        """Drop a marker this job placed (enqueue failed, or the job failed for good)."""
        conditional(
            self.client.delete_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            ConditionExpression="job_id = :job",
            ExpressionAttributeValues={":job": string(job_id)},
        )

    def acquire_lease(
        self,
        key: str,
        job_id: str,
        worker_id: str,
        now: float,
        lease_seconds: int,
        *,
        unless_cached: bool = False,
        also: list[Any] | None = None,
    ) -> bool:
        """Lease the key's marker for ``worker_id`` (``LeaseHeld``: another worker holds it). ``unless_cached``:
        only while the key has no live content, checked in the same write (a TransactWriteItems); False: it has,
        nothing was written (a duplicate delivery after the content was stored), with no read before or after.
        ``also``: more transaction items written with the lease (the job's ``generating`` mark); when their own
        conditions do not hold, the lease is taken without them."""
        lease = self._lease(key, job_id, worker_id, now, lease_seconds)
        if unless_cached or also:
            return self._lease_together(key, lease, now, unless_cached=unless_cached, also=also or [])
        return self._lease_alone(key, lease)

    def lease_unless_cached_with(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, also: list[Any]
    ) -> bool:
        """``acquire_lease(unless_cached=True)`` with ``also`` in the same transaction, all or nothing: False when
        anything stopped it (the content, the lease, ``also``'s conditions, a conflict), nothing written and no
        reason told: the caller goes the way that reads first."""
        lease = self._lease(key, job_id, worker_id, now, lease_seconds)
        items = [{"ConditionCheck": self._uncached(key, now)}, {"Update": lease}, *also]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if cancellation_codes(exc) is None:
                raise
            return False
        return True

    def _uncached(self, key: str, now: float) -> dict[str, Any]:
        """The condition that the key has no live content: an expired body not yet removed by TTL is never served
        (get_content), so it does not count."""
        return {
            "TableName": self.table,
            "Key": {"pk": string(key), "sk": string("content")},
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
            "ExpressionAttributeValues": {":now": whole(now)},
        }

    def _lease(self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int) -> dict[str, Any]:
        until = str(int(now + lease_seconds))
        return {
            "TableName": self.table,
            "Key": self._inflight_key(key),
            "UpdateExpression": (
                "SET #state = :generating, lease_owner = :w, lease_until = :until, expires_at = :until, "
                "job_id = if_not_exists(job_id, :job), lane = if_not_exists(lane, :lane)"
            ),
            "ConditionExpression": (
                "attribute_not_exists(pk) OR #state = :queued OR lease_until < :now OR lease_owner = :w "
                "OR expires_at < :now"
            ),
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":generating": string("generating"),
                ":queued": string("queued"),
                ":w": string(worker_id),
                ":until": {"N": until},
                ":now": whole(now),
                ":job": string(job_id),
                ":lane": string(Lane.INTERACTIVE.value),
            },
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }

    def _lease_together(
        self, key: str, lease: dict[str, Any], now: float, *, unless_cached: bool, also: list[Any]
    ) -> bool:
        items: list[Any] = [{"ConditionCheck": self._uncached(key, now)}] if unless_cached else []
        at = len(items)  # the lease's place in the transaction
        items += [{"Update": lease}, *also]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if codes is None:
                raise
            reasons: list[Any] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
            if unless_cached and codes[:1] == ["ConditionalCheckFailed"]:
                return False
            if codes[at : at + 1] == ["ConditionalCheckFailed"]:
                raise _held(key, (reasons[at] if len(reasons) > at else {}).get("Item", {})) from exc
            if "ConditionalCheckFailed" in codes[at + 1 :]:  # what goes with the lease does not hold: the lease alone
                if unless_cached:
                    return self._lease_together(key, lease, now, unless_cached=True, also=[])
                return self._lease_alone(key, lease)
            # collided with another write of the marker (a claim, another lease): held, for now
            raise LeaseHeld(f"key {key} is being written by another request", until=None) from exc
        return True

    def _lease_alone(self, key: str, lease: dict[str, Any]) -> bool:
        try:
            self.client.update_item(**lease)
        except ClientError as exc:
            if condition_failed(exc):
                raise _held(key, exc.response.get("Item", {})) from exc  # type: ignore[arg-type]
            raise
        return True

    def end_lease(self, key: str, worker_id: str) -> None:
        conditional(self.client.delete_item, **self.lease_end(key, worker_id))

    def lease_end(self, key: str, worker_id: str) -> dict[str, Any]:
        """The DeleteItem (or a transaction's Delete) ending ``worker_id``'s lease, if it still holds it."""
        return {
            "TableName": self.table,
            "Key": self._inflight_key(key),
            "ConditionExpression": "lease_owner = :w",
            "ExpressionAttributeValues": {":w": string(worker_id)},
        }

    def requeue_lease(self, key: str, worker_id: str) -> None:
        """Give the key back after a failed attempt so the redelivered message can try again at once."""
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._inflight_key(key),
            UpdateExpression="SET #state = :queued REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :w",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":queued": string("queued"), ":w": string(worker_id)},
        )


# The in-flight marker's item, shared with ``pregen.adapters.claims`` (a miss writes it with its job in one go).


def inflight_key(key: str) -> dict[str, Any]:
    return {"pk": string(key), "sk": string("inflight")}


def queued_marker(key: str, job_id: str, lane: Lane, now: float, until: float) -> dict[str, Any]:
    return {
        **inflight_key(key),
        "state": string("queued"),
        "job_id": string(job_id),
        "lane": string(lane.value),
        "claimed_at": number(now),
        "expires_at": whole(until),
    }


def someones(item: dict[str, Any]) -> InflightClaim:
    """Someone's marker as a claim lost to it."""
    claimed_at = item.get("claimed_at", {}).get("N")
    expires_at = item.get("expires_at", {}).get("N")
    return InflightClaim(
        won=False,
        job_id=item["job_id"]["S"],
        lane=item["lane"]["S"],
        state=item.get("state", {}).get("S", "queued"),
        claimed_at=float(claimed_at) if claimed_at is not None else None,
        expires_at=float(expires_at) if expires_at is not None else None,
    )


def _held(key: str, old: dict[str, Any]) -> LeaseHeld:
    """The lease refused, from the marker as it stood (``ALL_OLD``)."""
    until = old.get("lease_until", {}).get("N")
    holder = old.get("lease_owner", {}).get("S", "?")
    return LeaseHeld(f"key {key} is being generated by {holder}", until=float(until) if until is not None else None)
