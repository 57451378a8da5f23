"""DynamoDB adapter for rate-limit counters (part of the DynamoDB adapter layer; its own module so the limiter's
code stays apart from the content store).

One small item per learner and window in the counters table::

    pk = "limit#<sub>"   sk = "<window>#<window start, epoch s>"   used = N   expires_at = window end + 1 h (TTL)

Every window of a request is counted in ONE TransactWriteItems, each update conditional on having room, so a
request is counted against all of its windows or against none (no allowance is used up by a refused request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import cancellation_codes, condition_failed, dynamodb_client, number, string

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_TTL_GRACE_SECONDS = 3_600


class DynamoRateCounter:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _update(self, subject: str, window: tuple[str, int, int], cost: int, now: float) -> dict[str, Any]:
        name, seconds, allowed = window
        start = int(now) // seconds * seconds
        return {
            "TableName": self.table,
            "Key": {"pk": string(f"limit#{subject}"), "sk": string(f"{name}#{start}")},
            "UpdateExpression": "ADD used :cost SET expires_at = if_not_exists(expires_at, :exp)",
            "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
            "ExpressionAttributeValues": {
                ":cost": number(cost),
                ":room": number(allowed - cost),
                ":exp": number(start + seconds + _TTL_GRACE_SECONDS),
            },
        }

    def consume(self, subject: str, windows: list[tuple[str, int, int]], cost: int, now: float) -> str | None:
        if not windows:
            return None
        for name, _, allowed in windows:
            if cost > allowed:
                return name
        updates = [self._update(subject, window, cost, now) for window in windows]
        try:
            if len(updates) == 1:
                self.client.update_item(**updates[0])
            else:
                self.client.transact_write_items(TransactItems=[{"Update": u} for u in updates])  # type: ignore[typeddict-item]
        except ClientError as exc:
            refused = _refused_window(exc, windows)
            if refused is None:
                raise
            return refused
        return None


def _refused_window(exc: ClientError, windows: list[tuple[str, int, int]]) -> str | None:
    """The window whose condition refused the write; None when the write failed for another reason."""
    if condition_failed(exc):
        return windows[0][0]
    codes = cancellation_codes(exc)
    if codes is None:
        return None
    for (name, _, _), code in zip(windows, codes, strict=False):
        if code == "ConditionalCheckFailed":
            return name
    if all(code == "None" for code in codes):
        return windows[0][0]  # reasons not reported: name the shortest window
    return None
