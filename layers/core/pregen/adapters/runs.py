"""The cron's run state (exams table): a scheduled task's cursor and running totals, saved under a version so two
overlapping runs cannot both advance it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import conditional, dynamodb_client, string, whole

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoRunState:
    """Where a long scheduled run got to (``pk`` = ``run#<task>``, ``sk`` = ``state``), written after every chunk
    so a run cut short by the Lambda timeout continues from there. Versioned: two runs never interleave."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, ttl_days: int = 7) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.ttl_seconds = ttl_days * 86_400

    @staticmethod
    def _key(task: str) -> dict[str, Any]:
        return {"pk": string(f"run#{task}"), "sk": string("state")}

    def get(self, task: str) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(task), ConsistentRead=True).get("Item")
        if item is None:
            return None
        state: dict[str, Any] = json.loads(item["state"]["S"])
        state["version"] = int(item["version"]["N"])
        return state

    def save(self, task: str, state: dict[str, Any], version: int, now: float) -> bool:
        """Write ``state`` as version ``version + 1`` if the stored one is still ``version`` (0: none yet)."""
        body = {k: v for k, v in state.items() if k != "version"}
        return conditional(
            self.client.put_item,
            TableName=self.table,
            Item={
                **self._key(task),
                "state": string(json.dumps(body, separators=(",", ":"))),
                "version": whole(version + 1),
                "expires_at": whole(now + self.ttl_seconds),
            },
            ConditionExpression="attribute_not_exists(pk) OR version = :seen",
            ExpressionAttributeValues={":seen": whole(version)},
        )
