"""Near-duplicates' items in the content table (issue 33; ``pregen.domain.near``, ``pregen.services.near``).

- ``pk=<wording key>, sk=alias``            a verified alias: ``target`` (the content key that serves the wording),
                                            ``why``, ``expires_at`` (its own TTL, at most the target's).
- ``pk=near#<bucket>, sk=<content key>``    the candidate index: one small entry per published shared item of a
                                            bucket (its canonical subject and topic), expiring with its content.
- ``pk=near#judged#<wording key>, sk=<candidate key>``  a judgement, so each pair is judged once.

The serving path checks only the alias item, and only when the exact key missed: inside the miss's claim
transaction (``alias_check``; a live alias cancels it and names its target), no request of its own. The index and the
judgements are read by the worker, off the request path: one Query of a bucket (at most ``BUCKET_READ_LIMIT``
entries) and one GetItem per candidate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import conditional, number, string, whole
from pregen.domain.near import BUCKET_READ_LIMIT, IndexEntry, Verdict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def alias_check(table: str, key: str, now: float) -> dict[str, Any]:
    """A transaction's ``ConditionCheck`` that the wording ``key`` has no live alias; when it has one, the
    cancellation reason returns the alias item (``alias_target``)."""
    return {
        "TableName": table,
        "Key": {"pk": string(key), "sk": string("alias")},
        "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
        "ExpressionAttributeValues": {":now": whole(now)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def alias_target(item: dict[str, Any] | None, now: float) -> str | None:
    """The content key an alias item points at, or None (no item, or past its TTL)."""
    if item is None or "target" not in item or float(item["expires_at"]["N"]) <= now:
        return None
    return str(item["target"]["S"])


class DynamoNearStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table = table_name
        self.client = client

    # -- aliases (the serving path reads them) ----------------------------------------------------------------------

    def get_alias(self, key: str, now: float) -> str | None:
        """The content key a wording is an alias of, or None (none, or past its TTL)."""
        item = self.client.get_item(TableName=self.table, Key={"pk": string(key), "sk": string("alias")}).get("Item")
        return alias_target(item, now)

    def put_alias(self, key: str, target: str, why: str, now: float, expires_at: float) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": string(key),
                "sk": string("alias"),
                "target": string(target),
                "why": string(why[:300] or "-"),
                "created_at": whole(now),
                "expires_at": whole(expires_at),
            },
        )

    def delete_alias(self, key: str) -> bool:
        """Revoke an alias; False when there was none."""
        return conditional(
            self.client.delete_item,
            TableName=self.table,
            Key={"pk": string(key), "sk": string("alias")},
            ConditionExpression="attribute_exists(pk)",
        )

    # -- the candidate index (the worker's) -------------------------------------------------------------------------

    def add_entry(self, bucket: str, entry: IndexEntry, expires_at: float) -> None:
        self.client.put_item(**self.entry_put(bucket, entry, expires_at))

    def entry_put(self, bucket: str, entry: IndexEntry, expires_at: float) -> dict[str, Any]:
        """The PutItem (or a transaction's Put) of a bucket's index entry."""
        item: dict[str, Any] = {
            "pk": string(f"near#{bucket}"),
            "sk": string(entry.key),
            "subject": string(entry.subject),
            "expires_at": whole(expires_at),
        }
        if entry.topic:
            item["topic"] = string(entry.topic)
        return {"TableName": self.table, "Item": item}

    def entries(self, bucket: str, now: float) -> list[IndexEntry]:
        """A bucket's live entries (one Query, at most ``BUCKET_READ_LIMIT``)."""
        items = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": string(f"near#{bucket}")},
            Limit=BUCKET_READ_LIMIT,
        ).get("Items", [])
        return [
            IndexEntry(key=i["sk"]["S"], subject=i["subject"]["S"], topic=i.get("topic", {}).get("S"))
            for i in items
            if float(i["expires_at"]["N"]) > now
        ]

    # -- judgements -------------------------------------------------------------------------------------------------

    def _judged_key(self, key: str, candidate: str) -> dict[str, Any]:
        return {"pk": string(f"near#judged#{key}"), "sk": string(candidate)}

    def get_verdict(self, key: str, candidate: str) -> Verdict | None:
        item = self.client.get_item(TableName=self.table, Key=self._judged_key(key, candidate)).get("Item")
        if item is None:
            return None
        return Verdict(
            same=item["same"]["BOOL"],
            why=item["why"]["S"],
            model=item["model"]["S"],
            cost_usd=float(item["cost_usd"]["N"]),
        )

    def put_verdict(self, key: str, candidate: str, verdict: Verdict, now: float, expires_at: float) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                **self._judged_key(key, candidate),
                "same": {"BOOL": verdict.same},
                "why": string(verdict.why[:300] or "-"),
                "model": string(verdict.model),
                "cost_usd": number(verdict.cost_usd),
                "judged_at": whole(now),
                "expires_at": whole(expires_at),
            },
        )
