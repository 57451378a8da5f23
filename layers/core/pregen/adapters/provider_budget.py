"""DynamoDB adapter for the model provider's shared budget (``pregen.services.provider_budget``), in the counters
table. One small item per model and minute::

    pk = "provider#<model>"   sk = "minute#<its start, epoch s>"
    out, inp, req = output tokens, input tokens, requests reserved or used in the minute
    waits, answers, throttled = units handed back for budget, Messages answers, 429s among them
    expires_at = the minute's end + 2 days (the analytics read the last day's minutes)

A reservation is ONE conditional UpdateItem (each total, with the reservation, must stay within the lane's room);
a settle or a count is one unconditional UpdateItem. No read, no scan: the item is as hot as the provider's own
minute, no more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import condition_failed, deserialize, dynamodb_client, number, string, whole

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.domain.provider_limits import Spend

_KEEP_S = 2 * 86_400
_TOTALS = (("out", "output_tokens"), ("inp", "input_tokens"), ("req", "requests"))


def budget_key(model: str, window: int) -> dict[str, Any]:
    return {"pk": string(f"provider#{model}"), "sk": string(f"minute#{window}")}


class DynamoProviderBudget:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def reserve(self, model: str, window: int, need: Spend, room: Spend, now: float) -> bool:
        names = {f"#{short}": short for short, _ in _TOTALS}
        values: dict[str, Any] = {":exp": whole(window + 60 + _KEEP_S)}
        conditions, adds = [], []
        for short, field in _TOTALS:
            want, allowed = getattr(need, field), getattr(room, field)
            values[f":{short}"] = number(want)
            values[f":room_{short}"] = number(allowed - want)
            conditions.append(f"(attribute_not_exists(#{short}) OR #{short} <= :room_{short})")
            adds.append(f"#{short} :{short}")
        try:
            self.client.update_item(
                TableName=self.table,
                Key=budget_key(model, window),
                UpdateExpression=f"ADD {', '.join(adds)} SET expires_at = if_not_exists(expires_at, :exp)",
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def add(self, model: str, window: int, delta: Spend, counts: Mapping[str, int], now: float) -> None:
        adds = {short: getattr(delta, field) for short, field in _TOTALS} | dict(counts)
        adds = {name: value for name, value in adds.items() if value}
        if not adds:
            return
        names = {f"#a{i}": name for i, name in enumerate(adds)}
        values: dict[str, Any] = {f":a{i}": number(value) for i, value in enumerate(adds.values())}
        values[":exp"] = whole(window + 60 + _KEEP_S)
        self.client.update_item(
            TableName=self.table,
            Key=budget_key(model, window),
            UpdateExpression=f"ADD {', '.join(f'#a{i} :a{i}' for i in range(len(adds)))} "
            "SET expires_at = if_not_exists(expires_at, :exp)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def read(self, model: str, windows: list[int]) -> dict[int, dict[str, float]]:
        """The minutes' items that exist (one BatchGetItem per 100 minutes)."""
        found: dict[int, dict[str, float]] = {}
        for start in range(0, len(windows), 100):
            request: dict[str, Any] = {
                self.table: {"Keys": [budget_key(model, w) for w in windows[start : start + 100]]}
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    data = deserialize(item)
                    window = int(str(data.pop("sk")).removeprefix("minute#"))
                    data.pop("pk", None)
                    data.pop("expires_at", None)
                    found[window] = {k: float(v) for k, v in data.items()}
                request = response.get("UnprocessedKeys") or {}
        return found
