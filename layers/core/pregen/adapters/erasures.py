"""Erasure tombstones, one small item per erased learner in the counters table::

    pk = "erased#<sha256(sub)[:40]>"  sk = "erasure"   requested_at, by_admin, passes_done, status, done_at, expires_at

Keyed by a digest of the learner's id, never the id itself, and holding nothing else of theirs: a scan of every
table after an erasure finds nothing that names the learner. ``expires_at`` (the table's TTL) outlives anything of
theirs that could still arrive (``pregen.services.erasures.TOMBSTONE_DAYS``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import condition_failed, dynamodb_client, number, string, whole
from pregen.domain.records import ErasureStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def tombstone_pk(sub: str) -> str:
    return "erased#" + hashlib.sha256(sub.encode()).hexdigest()[:40]


class DynamoErasures:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, sub: str) -> dict[str, dict[str, str]]:
        return {"pk": string(tombstone_pk(sub)), "sk": string("erasure")}

    def begin(self, sub: str, requested_at: float, *, by_admin: bool, expires_at: float) -> None:
        """A new erasure request: the tombstone (re)starts, no pass done yet."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(sub),
            UpdateExpression=(
                "SET requested_at = :at, by_admin = :admin, passes_done = :zero, #status = :erasing, "
                "expires_at = :expires REMOVE done_at"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":at": number(requested_at),
                ":admin": {"BOOL": by_admin},
                ":zero": whole(0),
                ":erasing": string("erasing"),
                ":expires": whole(expires_at),
            },
        )

    def pass_done(
        self, sub: str, pass_number: int, *, requested_at: float, final: bool, now: float, expires_at: float
    ) -> None:
        """A pass ended. Also writes the tombstone if ``begin`` never did (an erasure queued before it existed)."""
        values = {
            ":n": whole(pass_number),
            ":at": number(requested_at),
            ":expires": whole(expires_at),
            ":status": string("done" if final else "erasing"),
        }
        update = (
            "SET passes_done = :n, #status = :status, requested_at = if_not_exists(requested_at, :at), "
            "expires_at = :expires"
        )
        if final:
            update += ", done_at = :now"
            values[":now"] = whole(now)
        self.client.update_item(
            TableName=self.table,
            Key=self._key(sub),
            UpdateExpression=update,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def mark_redriven(self, sub: str, pass_number: int, now: float) -> bool:
        """Record that a dead-lettered pass was sent again; False when it already was (or a later pass)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(sub),
                UpdateExpression="SET redriven_pass = :n, redriven_at = :now",
                ConditionExpression="attribute_not_exists(redriven_pass) OR redriven_pass < :n",
                ExpressionAttributeValues={":n": whole(pass_number), ":now": whole(now)},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get(self, sub: str) -> ErasureStatus | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(sub), ConsistentRead=True).get("Item")
        if item is None:
            return None
        return ErasureStatus(
            requested_at=float(item["requested_at"]["N"]),
            passes_done=int(item.get("passes_done", {"N": "0"})["N"]),
            status=item.get("status", {"S": "erasing"})["S"],
            done_at=float(item["done_at"]["N"]) if "done_at" in item else None,
            expires_at=float(item["expires_at"]["N"]),
        )

    def not_erased_since(self, sub: str, started_at: float | None) -> dict[str, Any]:
        """A transaction's ConditionCheck holding what ``pregen.services.erasures.refuses`` checks with a read: no
        tombstone of ``sub``, or one requested before ``started_at`` (None: not known, so any tombstone fails it)."""
        check: dict[str, Any] = {"TableName": self.table, "Key": self._key(sub)}
        if started_at is None:
            return check | {"ConditionExpression": "attribute_not_exists(pk)"}
        return check | {
            "ConditionExpression": "attribute_not_exists(pk) OR requested_at < :started",
            "ExpressionAttributeValues": {":started": number(started_at)},
        }
