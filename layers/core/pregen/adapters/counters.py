"""The counters table's adapters: day counters added as work happens (read by analytics without a scan), and the
logged hits added to the keys' ``stats`` items exactly once per delivered batch."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import (
    ConflictRetry,
    applied_marker,
    cancellation_codes,
    deserialize,
    dynamodb_client,
    number,
    string,
    whole,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.usage_log import KeyHits


GAUGES_PK = "gauges"  # standing totals (exams generated, claimed, ...), fed by the features that own them; no expiry
# Figures many writers add to at once (every learner's exam claims and publishes) go to one of this many shards of
# their item, ``<pk>#s<n>``, so no single item (or partition) takes every write; readers add the shards up.
SHARDS = 8
_ADD_ONCE_CONFLICTS = ConflictRetry(retries=5, low_s=0.02, high_s=0.1)


def shard_of(pk: str, shard: int) -> str:
    return f"{pk}#s{shard}"


def _standing(pk: str) -> bool:
    """The gauges and their shards never expire."""
    return pk == GAUGES_PK or pk.startswith(f"{GAUGES_PK}#")


class DynamoCounters:
    """Analytics counters: one small item per day, numbers added atomically as work happens (never a scan)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, retention_days: int = 400) -> None:
        self.table = table_name
        self.retention_seconds = retention_days * 86_400
        self.client = client or dynamodb_client()

    def add(self, day: str, counts: dict[str, int | float], now: float) -> None:
        """Add to the day's ``totals`` item."""
        if not counts:
            return
        self.client.update_item(**self.update_request(f"day#{day}", counts, now))

    def add_learner(self, sub: str, day: str, counts: dict[str, int | float], now: float) -> None:
        """Add to one learner's item of the day (``learner#<sub>`` / ``day#<day>``): their own partition, so a
        million learners fit, and their items are read or erased with one Query."""
        if counts:
            self.client.update_item(**self.update_request(f"learner#{sub}", counts, now, sk=f"day#{day}"))

    def add_gauges(self, counts: dict[str, int | float], now: float) -> None:
        """Add (or, with negative numbers, take away) from the standing totals that are not per day."""
        if counts:
            self.client.update_item(**self.update_request(GAUGES_PK, counts, now))

    def shard_update(self, pk: str, counts: dict[str, int | float] | dict[str, int], now: float) -> dict[str, Any]:
        """A transaction's Update adding ``counts`` to a random shard of ``pk`` (read back summed by ``read_items``)."""
        return {"Update": self.update_request(shard_of(pk, random.randrange(SHARDS)), counts, now)}

    def update_request(
        self, pk: str, counts: dict[str, int | float] | dict[str, int], now: float, sk: str = "totals"
    ) -> dict[str, Any]:
        """The UpdateItem (or a transaction's Update) adding ``counts`` to one counter item. Day items expire after
        the retention; the gauges, standing totals, never do."""
        names = {f"#c{i}": name for i, name in enumerate(counts)}
        values = {f":v{i}": number(v) for i, v in enumerate(counts.values())}
        adds = ", ".join(f"#c{i} :v{i}" for i in range(len(counts)))
        update = f"ADD {adds}"
        if not _standing(pk):
            values[":exp"] = whole(now + self.retention_seconds)
            update += " SET expires_at = if_not_exists(expires_at, :exp)"
        return {
            "TableName": self.table,
            "Key": {"pk": string(pk), "sk": string(sk)},
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def add_once(
        self, batch_id: str, per_day: dict[str, dict[str, int | float]], now: float, *, keep_days: int = 7
    ) -> bool:
        """Add several days' counts exactly once per ``batch_id`` (one transaction with a marker item).

        A stream batch that Lambda delivers again (the function failed after the write) finds its marker and
        adds nothing, so at-least-once delivery still counts each change once. False when already applied. The
        marker is kept ``keep_days``: longer than the batch can be delivered again.
        """
        per_day = {day: counts for day, counts in per_day.items() if counts}
        if not per_day:
            return True
        items: list[Any] = [applied_marker(self.table, f"batch#{batch_id}", now + keep_days * 86_400)]
        items += [{"Update": self.update_request(f"day#{day}", counts, now)} for day, counts in per_day.items()]
        conflicts = 0
        while True:
            try:
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                codes = cancellation_codes(exc) or []
                if codes[:1] == ["ConditionalCheckFailed"]:
                    return False
                # Another writer touched today's item at that moment (botocore does not retry it): the marker was
                # not written either, so trying again still adds exactly once.
                if "TransactionConflict" in codes:
                    conflicts += 1
                    if _ADD_ONCE_CONFLICTS.wait(conflicts):
                        continue
                raise
            return True

    def read_days(self, days: list[str]) -> dict[str, dict[str, float]]:
        """One BatchGetItem per 100 days, whatever the number of items stored."""
        found = self.read_items([f"day#{d}" for d in days])
        return {pk.removeprefix("day#"): counts for pk, counts in found.items()}

    def read_gauges(self) -> dict[str, float]:
        return self.read_items([GAUGES_PK]).get(GAUGES_PK, {})

    def read_items(self, pks: list[str]) -> dict[str, dict[str, float]]:
        """Counter items by partition key, each with its shards added in: one BatchGetItem per 100 items, never a
        query or a scan."""
        owner = {}  # stored pk (the item or one of its shards) → the pk asked for
        for pk in dict.fromkeys(pks):
            owner[pk] = pk
            owner.update({shard_of(pk, n): pk for n in range(SHARDS)})
        stored = list(owner)
        result: dict[str, dict[str, float]] = {}
        for start in range(0, len(stored), 100):
            keys = [{"pk": string(pk), "sk": string("totals")} for pk in stored[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table, []):
                    data = deserialize(item)
                    counts = result.setdefault(owner[str(data.pop("pk"))], {})
                    data.pop("sk", None)
                    data.pop("expires_at", None)
                    for k, v in data.items():
                        counts[k] = counts.get(k, 0.0) + float(v)
                request = response.get("UnprocessedKeys") or {}
        return result


class DynamoHitCounter:
    """Adds logged hits (``pregen.usage_log``) to the keys' ``stats`` items, exactly once per delivered batch.

    Each transaction holds a marker item (counters table) and up to 99 ``ADD hits`` updates; a batch delivered
    again finds its markers and adds nothing. A key whose stats item is gone (TTL deleted it between the hit and
    the count) is dropped rather than recreated without an expiry.
    """

    CHUNK = 99  # DynamoDB's 100 items per transaction, less the marker
    CONFLICTS = ConflictRetry(retries=5, low_s=0.05, high_s=0.2)
    MARKER_DAYS = 15

    def __init__(self, content_table: str, counters_table: str, client: DynamoDBClient | None = None) -> None:
        self.content_table = content_table
        self.counters_table = counters_table
        self.client = client or dynamodb_client()

    def add(self, batch_id: str, hits: dict[str, KeyHits], now: float) -> int:
        """Returns the hits added (0 for a batch already applied)."""
        keys = sorted(hits)
        added = 0
        for start in range(0, len(keys), self.CHUNK):
            chunk = {k: hits[k] for k in keys[start : start + self.CHUNK]}
            added += self._add_chunk(f"hits#{batch_id}#{start // self.CHUNK}", chunk, now)
        return added

    def _add_chunk(self, marker_pk: str, chunk: dict[str, KeyHits], now: float) -> int:
        conflicts = 0
        while chunk:
            try:
                self.client.transact_write_items(TransactItems=self._chunk_items(marker_pk, chunk, now))
            except ClientError as exc:
                codes = cancellation_codes(exc)
                if not codes:
                    raise
                if codes[0] == "ConditionalCheckFailed":
                    return 0  # the marker exists: this chunk was applied by an earlier delivery
                gone = {key for key, code in zip(chunk, codes[1:], strict=False) if code == "ConditionalCheckFailed"}
                if gone:
                    chunk = {k: h for k, h in chunk.items() if k not in gone}
                    continue
                # Batches of several log streams are delivered at once, and a popular key is in most of them:
                # two transactions on one stats item cancel each other (TransactionConflict), which botocore
                # does not retry. Retry here, with jitter, before letting the batch fail to Lambda's retries.
                conflicted = all(code in {"TransactionConflict", "None"} for code in codes)
                if conflicted and self.CONFLICTS.wait(conflicts + 1):
                    conflicts += 1
                    continue
                raise
            return sum(h.count for h in chunk.values())
        return 0

    def _chunk_items(self, marker_pk: str, chunk: dict[str, KeyHits], now: float) -> list[Any]:
        # Longer than a failed batch can wait in UsageDeadLetterQueue (14 days): a replay adds nothing twice.
        items: list[Any] = [applied_marker(self.counters_table, marker_pk, now + self.MARKER_DAYS * 86_400)]
        items += [
            {
                "Update": {
                    "TableName": self.content_table,
                    "Key": {"pk": string(key), "sk": string("stats")},
                    "UpdateExpression": "ADD hits :n SET last_access = :at",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":n": number(h.count), ":at": number(h.last_at)},
                }
            }
            for key, h in chunk.items()
        ]
        return items
