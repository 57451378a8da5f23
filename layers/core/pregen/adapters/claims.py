"""A miss's one write: the key's in-flight marker and its job, in one TransactWriteItems over the content and jobs
tables (both or neither), only while the key has no live marker and (unless regenerating) no live content.

A lost claim learns whose marker holds the key from the transaction's cancellation reason
(``ReturnValuesOnConditionCheckFailure=ALL_OLD``), not from a read: a joined miss costs its cache read and this
write, and a won one needs no consistent re-read of the content (the content's condition check is in the write).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.content import queued_marker, someones
from pregen.adapters.ddb import ConflictRetry, cancellation_codes, dynamodb_client, string, whole
from pregen.domain.records import KeyClaim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.adapters.jobs import DynamoJobStore
    from pregen.domain.models import Job

# A stampede's claims of one key collide (TransactionConflict, which botocore does not retry): a few short tries,
# then the caller reads the marker the winner wrote.
_CONFLICTS = ConflictRetry(retries=3, low_s=0.005, high_s=0.03)


class DynamoKeyClaims:
    def __init__(self, content_table: str, jobs: DynamoJobStore, client: DynamoDBClient | None = None) -> None:
        self.content_table = content_table
        self.jobs = jobs
        self.client = client or dynamodb_client()

    def claim(self, job: Job, now: float, hold_seconds: int, *, unless_cached: bool) -> KeyClaim:
        content = {
            "TableName": self.content_table,
            "Key": {"pk": string(job.key), "sk": string("content")},
            # an expired body not yet removed by TTL is never served (get_content): it does not count
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
            "ExpressionAttributeValues": {":now": whole(now)},
        }
        marker = {
            "TableName": self.content_table,
            "Item": queued_marker(job.key, job.job_id, job.lane, now, now + hold_seconds),
            "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
            "ExpressionAttributeValues": {":now": whole(now)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        record = {"TableName": self.jobs.table, "Item": self.jobs.item(job)}
        items: list[Any] = [{"ConditionCheck": content}] if unless_cached else []
        items += [{"Put": marker}, {"Put": record}]
        at = 1 if unless_cached else 0  # the marker's place in the transaction (after the content's check)
        tries = 0
        while True:
            try:
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                codes = cancellation_codes(exc)
                if codes is None:
                    raise
                reasons: list[Any] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
                reasons += [{}] * (len(items) - len(reasons))  # an engine that reports none: learnt nothing
                codes += ["None"] * (len(items) - len(codes))
                if unless_cached and codes[0] == "ConditionalCheckFailed":
                    return KeyClaim(won=False, cached=True)
                if codes[at] == "ConditionalCheckFailed":
                    old = reasons[at].get("Item")
                    return KeyClaim(won=False, held=someones(old) if old else None)
                if "TransactionConflict" in codes:
                    tries += 1
                    if _CONFLICTS.wait(tries):
                        continue
                    return KeyClaim(won=False)
                raise
            return KeyClaim(won=True)
