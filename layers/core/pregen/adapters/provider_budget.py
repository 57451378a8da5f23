"""DynamoDB adapter for the model provider's shared budget (``pregen.services.provider_budget``), in the counters
table. One bucket item per model and one small record per model and minute::

    pk = "provider#<model>"   sk = "bucket"
    fo, fi, fr = when the output-tokens, input-tokens and requests buckets are full again (epoch s; see
                 ``domain.provider_limits.Bucket``)

    pk = "provider#<model>"   sk = "minute#<its start, epoch s>"
    out, inp, req = output tokens, input tokens, requests used by the units settled from the minute's starts
    waits, answers, throttled = units handed back for budget, Messages answers, 429s among them
    expires_at = the minute's end + 2 days (the analytics read the last day's minutes)

A reservation is ONE conditional UpdateItem on the bucket, written for what this environment last saw of it: a
limit whose bucket is being refilled moves on (``fo = fo + step``, if no one has moved it past the lane's room), one
that is full starts from now (``fo = now + step``, if it is still full). When the condition fails, the item as it is
comes back with the failure (``ReturnValuesOnConditionCheckFailure``), so the wait it predicts needs no read, and a
wrong guess costs one more try. A settle is one unconditional UpdateItem on the bucket and one on its minute. No
read, no scan: the bucket item is as hot as the provider's own, no more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import condition_failed, deserialize, dynamodb_client, number, string, whole
from pregen.domain.provider_limits import WINDOW_S, Bucket, seconds_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.domain.provider_limits import Spend

_KEEP_S = 2 * 86_400
_TOTALS = (("out", "output_tokens"), ("inp", "input_tokens"), ("req", "requests"))
_FULL_AT = ("fo", "fi", "fr")  # the bucket's full-again times, in Spend's order
_TRIES = 4  # a take written for a bucket another environment has just moved is re-written for the bucket it got


def budget_key(model: str, window: int) -> dict[str, Any]:
    return {"pk": string(f"provider#{model}"), "sk": string(f"minute#{window}")}


def bucket_key(model: str) -> dict[str, Any]:
    return {"pk": string(f"provider#{model}"), "sk": string("bucket")}


def _bucket(item: Mapping[str, Any] | None) -> Bucket:
    data = deserialize(dict(item)) if item else {}
    full_at = [float(data.get(name, 0)) for name in _FULL_AT]
    return Bucket((full_at[0], full_at[1], full_at[2]))


def _time(value: float) -> dict[str, str]:
    return number(round(value, 4))


class DynamoProviderBudget:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self._seen: dict[str, Bucket] = {}  # each model's bucket as this environment last saw it

    def take(self, model: str, need: Spend, room: Spend, capacity: Spend, now: float) -> float:
        seen = self._seen.get(model, Bucket())
        steps = seconds_of(need, capacity)
        for _ in range(_TRIES):
            # The condition is the service's to check against the bucket as it is; what this environment saw of it
            # only chooses how each limit is written (moved on, or started from now).
            names: dict[str, str] = {}
            values: dict[str, Any] = {":now": _time(now)}
            conditions, sets = [], []
            limits = zip(_FULL_AT, seen.full_at, steps, room.parts(), capacity.parts(), strict=True)
            for name, was, step, allowed, size in limits:
                if size <= 0:
                    continue
                names[f"#{name}"] = name
                if was > now:  # being refilled: move on from where it is, unless that passes the lane's room
                    values[f":{name}_step"] = _time(step)
                    values[f":{name}_most"] = _time(now + allowed * WINDOW_S / size - step)
                    conditions.append(f"(#{name} > :now AND #{name} <= :{name}_most)")
                    sets.append(f"#{name} = #{name} + :{name}_step")
                else:  # full: start from now, if it still is (and the step is within the lane's room)
                    if step > allowed * WINDOW_S / size:
                        return step - allowed * WINDOW_S / size  # larger than the room: the caller clamps needs
                    values[f":{name}"] = _time(now + step)
                    conditions.append(f"(attribute_not_exists(#{name}) OR #{name} <= :now)")
                    sets.append(f"#{name} = :{name}")
            try:
                response = self.client.update_item(
                    TableName=self.table,
                    Key=bucket_key(model),
                    UpdateExpression=f"SET {', '.join(sets)}",
                    ConditionExpression=" AND ".join(conditions),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                item: Any = exc.response.get("Item")  # the item as it is (ReturnValuesOnConditionCheckFailure)
                seen = self._seen[model] = _bucket(item)
                wait = seen.take(need, room, capacity, now)[1]
                if wait > 0:
                    return wait
                continue  # it fits: this environment wrote for a bucket that had changed; again, for this one
            self._seen[model] = _bucket(response.get("Attributes"))
            return 0.0
        # Other environments moved the bucket under every try: a moment's wait (the hand-back's floor applies).
        return 1e-3

    def give(self, model: str, delta: Spend, capacity: Spend) -> None:
        moves = {name: -step for name, step in zip(_FULL_AT, seconds_of(delta, capacity), strict=True) if step}
        if not moves:
            return
        response = self.client.update_item(
            TableName=self.table,
            Key=bucket_key(model),
            UpdateExpression=f"ADD {', '.join(f'#{name} :{name}' for name in moves)}",
            ExpressionAttributeNames={f"#{name}": name for name in moves},
            ExpressionAttributeValues={f":{name}": _time(step) for name, step in moves.items()},
            ReturnValues="ALL_NEW",  # the bucket as the give left it: the next take is written for it, not refused
        )
        self._seen[model] = _bucket(response.get("Attributes"))

    def bucket(self, model: str) -> Bucket:
        """The model's bucket as it is (one consistent GetItem; the benchmark's and tests' view, not the worker's)."""
        response = self.client.get_item(TableName=self.table, Key=bucket_key(model), ConsistentRead=True)
        return _bucket(response.get("Item"))

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
