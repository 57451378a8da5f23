"""A miss's one write: the key's in-flight marker and its job, in one TransactWriteItems over the content and jobs
tables (both or neither), only while the key has no live marker and (unless regenerating) no live content; on a
learner's miss, also only while the wording has no live alias (near-duplicates) and with the learner's allowance
charged in the same write (the counters table's item, ``pregen.adapters.limits``).

A lost claim learns why from the transaction's cancellation reasons (``ReturnValuesOnConditionCheckFailure=ALL_OLD``),
not from a read: whose marker holds the key, the alias's target, or the allowance's counts when it has no room. A
joined miss costs its cache read and this write, and a won one needs no consistent re-read of the content, no alias
read and no separate charge: a miss is enqueued after 3 requests (the cache read, this write, the send).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.content import queued_marker, someones
from pregen.adapters.ddb import ConflictRetry, cancellation_codes, dynamodb_client, string, whole
from pregen.adapters.limits import DynamoRateCounter, refusal
from pregen.adapters.near import alias_check, alias_target
from pregen.domain.records import KeyClaim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.adapters.jobs import DynamoJobStore
    from pregen.domain.limits import Charge
    from pregen.domain.models import Job

# A stampede's claims of one key collide (TransactionConflict, which botocore does not retry): a few short tries,
# then the caller reads the marker the winner wrote.
_CONFLICTS = ConflictRetry(retries=3, low_s=0.005, high_s=0.03)


class DynamoKeyClaims:
    def __init__(
        self,
        content_table: str,
        jobs: DynamoJobStore,
        client: DynamoDBClient | None = None,
        *,
        counters_table: str | None = None,  # where a folded charge counts (``charge``); None: none can be folded
    ) -> None:
        self.content_table = content_table
        self.jobs = jobs
        self.client = client or dynamodb_client()
        self.counter = DynamoRateCounter(counters_table, self.client) if counters_table else None

    def claim(
        self,
        job: Job,
        now: float,
        hold_seconds: int,
        *,
        unless_cached: bool,
        alias: bool = False,
        charge: Charge | None = None,
    ) -> KeyClaim:
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
        parts: dict[str, Any] = {}  # name -> transaction item, in the order they are written
        if unless_cached:
            parts["content"] = {"ConditionCheck": content}
        if alias:
            parts["alias"] = {"ConditionCheck": alias_check(self.content_table, job.key, now)}
        parts |= {"marker": {"Put": marker}, "job": {"Put": record}}
        update: dict[str, Any] = {}
        if charge is not None:
            if self.counter is None:
                raise ValueError("a charge folded into a claim needs the counters table (counters_table)")
            update = self.counter.update(charge.subject, charge.windows, charge.cost, now)
            folded = {k: v for k, v in update.items() if k != "ReturnValues"}  # a transaction returns no values
            parts["charge"] = {"Update": folded}
        items = list(parts.values())
        tries = 0
        while True:
            try:
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                lost = self._lost(exc, list(parts), job, now, update=update, charge=charge)
                if lost is not None:
                    return lost
                tries += 1
                if _CONFLICTS.wait(tries):
                    continue
                return KeyClaim(won=False)
            return KeyClaim(won=True)

    def _lost(
        self, exc: ClientError, names: list[str], job: Job, now: float, *, update: dict[str, Any], charge: Charge | None
    ) -> KeyClaim | None:
        """Why the claim's transaction was cancelled, from its reasons (``names``: its items'); None: it collided
        with another transaction (TransactionConflict), try again. Anything else is raised."""
        codes = cancellation_codes(exc)
        if codes is None:
            raise exc
        reasons: list[Any] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
        reasons += [{}] * (len(names) - len(reasons))  # an engine that reports none: learnt nothing
        codes += ["None"] * (len(names) - len(codes))
        failed = {name: reasons[i] for i, name in enumerate(names) if codes[i] == "ConditionalCheckFailed"}
        if "content" in failed:
            return KeyClaim(won=False, cached=True)
        if "alias" in failed:
            old = failed["alias"].get("Item")
            # an engine that returns no item with the reason: read the alias (None: it expired meanwhile)
            return KeyClaim(won=False, alias=alias_target(old, now) if old else self._alias(job.key, now))
        if "marker" in failed:
            old = failed["marker"].get("Item")
            return KeyClaim(won=False, held=someones(old) if old else None)
        if "charge" in failed and charge is not None:
            old = failed["charge"].get("Item") or {}
            return KeyClaim(won=False, refused=refusal(old, update, charge.windows, charge.cost))
        if "TransactionConflict" in codes:
            return None
        raise exc

    def _alias(self, key: str, now: float) -> str | None:
        item = self.client.get_item(
            TableName=self.content_table, Key={"pk": string(key), "sk": string("alias")}, ConsistentRead=True
        ).get("Item")
        return alias_target(item, now)
