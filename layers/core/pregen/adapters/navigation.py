"""The navigation table's adapter: transition counts per scope, for the preloading model (navigation only, so the
serving path does not import the model)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.ddb import deserialize, dynamodb_client, string, whole
from pregen.domain.prediction import TransitionCounts

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoTransitionStore:
    """Navigation counts in their own table, one small item per scope (``pk`` = ``nav#<grade>#<subject>``,
    ``sk`` = ``counts``): ``visits#<step>`` and ``reached#<step>#<target>``, at most 4 + 4·5 numbers. A move is one
    UpdateItem with ADD (atomic, no read first); the model reads a scope with one GetItem. The item expires
    ``retention_days`` after its last move, so scopes nobody visits any more disappear on their own."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, retention_days: int = 180) -> None:
        self.table = table_name
        self.retention_seconds = retention_days * 86_400
        self.client = client or dynamodb_client()

    def record(self, scope: str, visit: str | None, reached: list[tuple[str, str]], now: float) -> None:
        names = [f"visits#{visit}"] if visit else []
        names += [f"reached#{origin}#{target}" for origin, target in reached]
        if not names:
            return
        attribute_names = {f"#c{i}": name for i, name in enumerate(names)}
        adds = ", ".join(f"#c{i} :one" for i in range(len(names)))
        self.client.update_item(
            TableName=self.table,
            Key={"pk": string(scope), "sk": string("counts")},
            UpdateExpression=f"ADD {adds} SET expires_at = :exp, updated_at = :now",
            ExpressionAttributeNames=attribute_names,
            ExpressionAttributeValues={
                ":one": whole(1),
                ":exp": whole(now + self.retention_seconds),
                ":now": whole(now),
            },
        )

    def read(self, scope: str) -> dict[str, TransitionCounts]:
        """Counts per origin step of a scope; an origin never visited is absent."""
        item = self.client.get_item(TableName=self.table, Key={"pk": string(scope), "sk": string("counts")}).get("Item")
        if item is None:
            return {}
        visits: dict[str, int] = {}
        reached: dict[str, dict[str, int]] = {}
        for name, value in deserialize(item).items():
            parts = name.split("#")
            if parts[0] == "visits" and len(parts) == 2:
                visits[parts[1]] = int(value)
            elif parts[0] == "reached" and len(parts) == 3:
                reached.setdefault(parts[1], {})[parts[2]] = int(value)
        return {
            origin: TransitionCounts(visits=visits.get(origin, 0), reached=reached.get(origin, {}))
            for origin in set(visits) | set(reached)
        }
