"""DynamoDB adapter for Message Batches in flight (part of the DynamoDB adapter layer, in its own module so the
batch code stays apart from the content and job stores). Items live in the jobs table::

    pk = "batch#<batch id>"  sk = "batch"     entries = {custom_id: job message}, state, submitted_at, expires_at
    pk = "batches#open"      sk = "<batch id>" submitted_at   (the collector's index: a Query, never a scan)

The record and its index entry are written together (one transaction), and the index entry is deleted when the
batch is collected, so the collector's Query only ever reads batches still open (at most a day's worth).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import condition_failed, dynamodb_client, string, whole

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_OPEN = "batches#open"


class DynamoBatchStore:
    def __init__(self, table_name: str, ttl_days: int = 7, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.ttl_seconds = ttl_days * 86_400
        self.client = client or dynamodb_client()

    def put_batch(self, batch_id: str, entries: dict[str, dict[str, Any]], now: float) -> None:
        expires = str(int(now + self.ttl_seconds))
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": string(f"batch#{batch_id}"),
                            "sk": string("batch"),
                            "state": string("open"),
                            # JSON text, not a map: job messages hold free text the DynamoDB types need not parse.
                            "entries": {"S": json.dumps(entries, separators=(",", ":"))},
                            "submitted_at": whole(now),
                            "expires_at": whole(float(expires)),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            "pk": string(_OPEN),
                            "sk": string(batch_id),
                            "submitted_at": whole(now),
                            "expires_at": whole(float(expires)),
                        },
                    }
                },
            ]
        )

    def open_batches(self) -> list[tuple[str, float]]:
        """(batch id, submitted at) of every batch not collected yet, oldest first."""
        found: list[tuple[str, float]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :open",
            "ExpressionAttributeValues": {":open": string(_OPEN)},
        }
        while True:
            page = self.client.query(**request)
            found += [(i["sk"]["S"], float(i["submitted_at"]["N"])) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(found, key=lambda b: b[1])

    def get_entries(self, batch_id: str) -> dict[str, dict[str, Any]]:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": string(f"batch#{batch_id}"), "sk": string("batch")}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return {}
        entries: dict[str, dict[str, Any]] = json.loads(item["entries"]["S"])
        return entries

    def drop_entries(self, batch_id: str, custom_ids: list[str]) -> None:
        """Rewrite an open batch's entries without ``custom_ids``, if nobody changed them meanwhile (else again)."""
        key = {"pk": string(f"batch#{batch_id}"), "sk": string("batch")}
        for _ in range(5):
            item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if item is None or "entries" not in item:
                return
            entries = json.loads(item["entries"]["S"])
            kept = {cid: entry for cid, entry in entries.items() if cid not in custom_ids}
            if len(kept) == len(entries):
                return
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET entries = :kept",
                    ConditionExpression="entries = :seen",
                    ExpressionAttributeValues={
                        ":kept": {"S": json.dumps(kept, separators=(",", ":"))},
                        ":seen": item["entries"],
                    },
                )
            except ClientError as exc:
                if condition_failed(exc):
                    continue
                raise
            return

    def close_batch(self, batch_id: str, summary: dict[str, int], now: float) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"pk": string(f"batch#{batch_id}"), "sk": string("batch")},
            # The entries (job messages: learners' ids and request text) are not needed once collected: dropped.
            UpdateExpression="SET #state = :closed, collected_at = :now, summary = :summary REMOVE entries",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":closed": string("collected"),
                ":now": whole(now),
                ":summary": string(json.dumps(summary)),
            },
        )
        self.client.delete_item(TableName=self.table, Key={"pk": string(_OPEN), "sk": string(batch_id)})
