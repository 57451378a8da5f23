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

from pregen.store import dynamodb_client

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
            "Key": {"pk": {"S": f"limit#{subject}"}, "sk": {"S": f"{name}#{start}"}},
            "UpdateExpression": "ADD used :cost SET expires_at = if_not_exists(expires_at, :exp)",
            "ConditionExpression": "attribute_not_exists(used) OR used <= :room",
            "ExpressionAttributeValues": {
                ":cost": {"N": str(cost)},
                ":room": {"N": str(allowed - cost)},
                ":exp": {"N": str(start + seconds + _TTL_GRACE_SECONDS)},
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
            error = exc.response.get("Error", {}).get("Code")
            if error == "ConditionalCheckFailedException":
                return windows[0][0]
            if error == "TransactionCanceledException":
                reasons: list[Any] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
                for (name, _, _), reason in zip(windows, reasons, strict=False):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        return name
                if not any(r.get("Code") not in (None, "None") for r in reasons):
                    return windows[0][0]  # reasons not reported: name the shortest window
            raise
        return None
