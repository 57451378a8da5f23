"""The learner activity index (counters table): who used the API on which day, sharded, so the cron's top-up pages
through the active learners with a Query per day and shard instead of a scan."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import dynamodb_client, string, whole
from pregen.domain.inventory import ActivityPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoActivity:
    """Who used the API on which day, for the cron's top-up: ``pk`` = ``active#<day>#<shard>``, ``sk`` = sub.

    Sharded so one busy day's writes spread over several partitions; the cron reads a window of days with one
    Query (paginated) per day and shard. Items expire on their own (TTL)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, shards: int = 4) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self._shards = shards

    def shards(self) -> int:
        return self._shards

    def shard_of(self, sub: str) -> int:
        return int(hashlib.sha256(sub.encode()).hexdigest()[:8], 16) % self._shards

    def record(self, sub: str, exam_types: list[str], day: str, now: float, expires_at: float) -> None:
        values: dict[str, Any] = {":now": whole(now), ":exp": whole(expires_at)}
        update = "SET last_seen = :now, expires_at = :exp"
        if exam_types:
            update += " ADD exam_types :types"
            values[":types"] = {"SS": sorted(set(exam_types))}
        self.client.update_item(
            TableName=self.table,
            Key={"pk": string(f"active#{day}#{self.shard_of(sub)}"), "sk": string(sub)},
            UpdateExpression=update,
            ExpressionAttributeValues=values,
        )

    def page(self, day: str, shard: int, start: dict[str, Any] | None, limit: int) -> ActivityPage:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": string(f"active#{day}#{shard}")},
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        learners = [(item["sk"]["S"], sorted(item.get("exam_types", {}).get("SS", []))) for item in response["Items"]]
        return ActivityPage(learners=learners, next_key=response.get("LastEvaluatedKey"))
