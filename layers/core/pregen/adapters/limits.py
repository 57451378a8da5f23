"""DynamoDB adapter for rate-limit counters (part of the DynamoDB adapter layer; its own module so the limiter's
code stays apart from the content store).

One small item per learner and window of the role's LONGEST window, in the counters table, holding every window::

    pk = "limit#<sub>"   sk = "<longest window>#<its start, epoch s>"   used = N (the longest window's count)
    "<shorter window>#<its start>" = N (one attribute per shorter window)   expires_at = longest window's end + 1 h

A request is counted against all of its windows or against none with ONE conditional UpdateItem (each window's
count must have room), not a transaction over one item per window: half the work for DynamoDB, and a quarter of
the write units (a transaction writes each item twice). The shorter windows nest in the longest (a minute in a day),
so their counts live in its item; each update removes the previous shorter window's attribute, so an item holds
about one attribute per shorter window (plus one per idle gap, at most the longest window's allowance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import condition_failed, dynamodb_client, number, string
from pregen.domain.limits import Consumed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_TTL_GRACE_SECONDS = 3_600


class DynamoRateCounter:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def update(self, subject: str, windows: list[tuple[str, int, int]], cost: int, now: float) -> dict[str, Any]:
        """The UpdateItem counting ``cost`` in every window (shortest first, as ``RoleLimits.windows`` lists them);
        also a miss's claim transaction's ``Update`` (``pregen.adapters.claims``), without its ``ReturnValues``."""
        longest, seconds, allowed = windows[-1]
        start = int(now) // seconds * seconds
        names: dict[str, str] = {}
        values: dict[str, Any] = {
            ":cost": number(cost),
            ":room0": number(allowed - cost),
            ":exp": number(start + seconds + _TTL_GRACE_SECONDS),
        }
        conditions = ["(attribute_not_exists(used) OR used <= :room0)"]
        adds, removes = ["used :cost"], []
        for i, (name, window_seconds, window_allowed) in enumerate(windows[:-1], start=1):
            window_start = int(now) // window_seconds * window_seconds
            names[f"#w{i}"] = f"{name}#{window_start}"
            names[f"#p{i}"] = f"{name}#{window_start - window_seconds}"  # the previous one: no longer counted
            values[f":room{i}"] = number(window_allowed - cost)
            conditions.append(f"(attribute_not_exists(#w{i}) OR #w{i} <= :room{i})")
            adds.append(f"#w{i} :cost")
            removes.append(f"#p{i}")
        update = f"ADD {', '.join(adds)} SET expires_at = if_not_exists(expires_at, :exp)"
        if removes:
            update += f" REMOVE {', '.join(removes)}"
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": {"pk": string(f"limit#{subject}"), "sk": string(f"{longest}#{start}")},
            "UpdateExpression": update,
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            request["ExpressionAttributeNames"] = names
        return request

    def consume(self, subject: str, windows: list[tuple[str, int, int]], cost: int, now: float) -> Consumed:
        if not windows:
            return Consumed(refused=None)
        for name, _, allowed in windows:
            if cost > allowed:
                return Consumed(refused=name)
        request = self.update(subject, windows, cost, now)
        try:
            item: dict[str, Any] = self.client.update_item(**request).get("Attributes", {})  # type: ignore[assignment]
        except ClientError as exc:
            if not condition_failed(exc):
                raise
            return refusal(exc.response.get("Item", {}), request, windows, cost)  # type: ignore[arg-type]
        return Consumed(refused=None, used=_counts(item, request, windows))


def refusal(old: dict[str, Any], request: dict[str, Any], windows: list[tuple[str, int, int]], cost: int) -> Consumed:
    """A refused charge from the counter item as it stood (``ALL_OLD``): the window with no room, and the counts."""
    return Consumed(refused=_refused_window(old, request, windows, cost), used=_counts(old, request, windows))


def _attributes(request: dict[str, Any], windows: list[tuple[str, int, int]]) -> list[str]:
    """The item's attribute holding each window's count, shortest window first (the longest is ``used``)."""
    names = request.get("ExpressionAttributeNames", {})
    return [names[f"#w{i}"] for i in range(1, len(windows))] + ["used"]


def _counts(item: dict[str, Any], request: dict[str, Any], windows: list[tuple[str, int, int]]) -> dict[str, int]:
    return {
        name: int(float(item.get(attribute, {}).get("N", 0)))
        for (name, _, _), attribute in zip(windows, _attributes(request, windows), strict=True)
    }


def _refused_window(
    old: dict[str, Any], request: dict[str, Any], windows: list[tuple[str, int, int]], cost: int
) -> str:
    """The window (shortest first) that had no room for ``cost`` in the item as it was (``ALL_OLD``)."""
    for (name, _, allowed), attribute in zip(windows, _attributes(request, windows), strict=True):
        if float(old.get(attribute, {}).get("N", 0)) + cost > allowed:
            return name
    return windows[0][0]  # not reported (an engine without ALL_OLD): name the shortest window
