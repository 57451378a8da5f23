"""DynamoDB adapter for the exam inventory (exams table): slots, assembled exams and their sections.

Exams table items (``pk``, ``sk``; TTL attribute ``expires_at``):

- ``inv#<sub>#<exam_type>`` / ``meta``            version of the learner's inventory (optimistic lock for top-ups)
- ``inv#<sub>#<exam_type>`` / ``exam#<exam_id>``  a slot: status, sections done/total, lane, expiry (small)
- ``exam#<exam_id>`` / ``exam``                   the assembled exam: compressed body, owner, status, expiry
- ``exam#<exam_id>`` / ``section#<nnn>``          one generated section (compressed), until assembly
- ``exam#<exam_id>`` / ``batch#<nnn>``            a top-up section's Message Batch claim: who claims it until when,
  then the ``batch_id`` it went in (never submitted twice); erased with the exam, expires with the batch's hold
- ``attempts#<sub>`` / ``attempt#<exam_id>``      the learner's graded attempt at a claimed exam (one per exam:
  score and per-question results, compressed), kept ``ATTEMPT_KEEP_DAYS``; listed and erased with the learner
- ``learner#<sub>`` / ``exams``                     the learner's exam figures (``pregen.domain.exam_stats``),
  changed in the same transaction as each publish and claim (no expiry), with ``pending``: the counter deltas of
  the changes not yet folded into the global counters

The claim and publish transactions touch only the learner's own items: hundreds of learners claiming at once never
cancel each other on a shared counter item. Their deltas are added to the record's ``pending`` (the record carries
the sum of every change not folded yet, and ``pending_since``: when the oldest entered), never folded first, so a
claim that lost its record to another claim only reads it again. ``pending`` is folded into sharded counter items
(``DynamoCounters.shard_update``) off the claim's path, in a transaction that also removes it from that version of
the record: exactly once, whoever does it. It is folded by the change that finds it older than ``FOLD_AFTER_S``
(a learner claiming all the time folds once a minute, not once a claim), by the cron's top-up for every active
learner (``fold_pending``), and by the learner's erasure.

A learner's inventory is one partition, read with one Query: no request path scans. Every read checks
``expires_at`` in code, because TTL deletes up to ~48 h late.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.counters import GAUGES_PK
from pregen.adapters.ddb import (
    BatchClaimShape,
    ConflictRetry,
    cancellation_codes,
    claim_for_batch,
    conditional,
    deserialize,
    dynamodb_client,
    lease_assembly,
    lost_batch_claim,
    release_batch_claim,
    serialize,
    string,
    whole,
)
from pregen.domain import exam_stats
from pregen.domain.attempts import Attempt, QuestionResult
from pregen.domain.codec import compress, decompress
from pregen.domain.errors import Conflict
from pregen.domain.exam_stats import LearnerExams
from pregen.domain.inventory import ExamRecord, ExamSlot, ExamStatus, SlotGone
from pregen.domain.records import BatchClaim
from pregen.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.adapters.counters import DynamoCounters
    from pregen.domain.models import Lane
    from pregen.domain.programs import SectionSpec


_META_TTL_SECONDS = 60 * 86_400
_CONFLICTS = ConflictRetry(retries=3, low_s=0.01, high_s=0.05)
# A publish or claim re-reads the learner's record when a concurrent one changed it first (two exams of one learner
# assembled at once, several tabs claiming): each try is a read and a transaction. Each lost try means another
# change of that learner was written, so a claim keeps trying while its exam is ready: one that gave up early would
# answer 202 with exams ready.
_RECORD_TRIES = 100
_RECORD_WAIT = ConflictRetry(retries=_RECORD_TRIES, low_s=0.0, high_s=0.004)
_CONDITION_FAILED = "ConditionalCheckFailed"
# How long a record's deltas may wait for the learner's next change to fold them; the cron folds the rest.
FOLD_AFTER_S = 60


def _pending_from(value: Any) -> dict[str, Any]:
    """The record's ``pending``: a JSON string (a map in records written before it was one)."""
    if "M" in value:
        return deserialize(dict(value["M"]))
    pending: dict[str, Any] = json.loads(value["S"])
    return pending


def _slot_from(item: dict[str, Any]) -> ExamSlot:
    return ExamSlot(
        exam_id=item["exam_id"]["S"],
        owner=item["owner"]["S"],
        exam_type=item["exam_type"]["S"],
        program=item["program"]["S"],
        status=ExamStatus(item["status"]["S"]),
        lane=item["lane"]["S"],
        sections_total=int(item["sections_total"]["N"]),
        sections_done=int(item.get("sections_done", {}).get("N", "0")),
        created_at=float(item["created_at"]["N"]),
        updated_at=float(item["updated_at"]["N"]),
        expires_at=float(item["expires_at"]["N"]),
        claimed_at=float(item["claimed_at"]["N"]) if "claimed_at" in item else None,
        reason=item["reason"]["S"] if "reason" in item else None,
    )


def attempts_partition(owner: str) -> str:
    return f"attempts#{owner}"


class DynamoExamInventory:
    def __init__(self, table_name: str, counters: DynamoCounters, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.counters = counters  # its counter items change in the same transactions as the exams
        self.client = client or dynamodb_client()

    @staticmethod
    def _partition(owner: str, exam_type: str) -> str:
        return f"inv#{owner}#{exam_type}"

    def _slot_key(self, owner: str, exam_type: str, exam_id: str) -> dict[str, Any]:
        return {"pk": string(self._partition(owner, exam_type)), "sk": string(f"exam#{exam_id}")}

    @staticmethod
    def _exam_key(exam_id: str) -> dict[str, Any]:
        return {"pk": string(f"exam#{exam_id}"), "sk": string("exam")}

    # -- the learner's partition ------------------------------------------------------------------------------------

    def list_slots(self, owner: str, exam_type: str) -> tuple[int, list[ExamSlot]]:
        """The inventory version and every slot, expired ones included (callers judge liveness with ``now``)."""
        version, slots = 0, []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": string(self._partition(owner, exam_type))},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**request)
            for item in response.get("Items", []):
                if item["sk"]["S"] == "meta":
                    version = int(item["version"]["N"])
                else:
                    slots.append(_slot_from(item))
            if "LastEvaluatedKey" not in response:
                return version, sorted(slots, key=lambda s: (s.created_at, s.exam_id))
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def create_slots(self, owner: str, exam_type: str, version: int, slots: list[ExamSlot]) -> bool:
        """Add slots if nobody changed the inventory since it was read at ``version`` (False: read again).

        The version bump and the new slots are one transaction, so two concurrent top-ups of the same learner
        cannot both see a gap of one and fill it twice."""
        partition = self._partition(owner, exam_type)
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"pk": string(partition), "sk": string("meta")},
                    # The version item outlives every slot; it then expires, and a learner back later starts at 0.
                    "UpdateExpression": "SET version = :next, expires_at = :exp",
                    "ConditionExpression": "attribute_not_exists(version) OR version = :seen",
                    "ExpressionAttributeValues": {
                        ":next": whole(version + 1),
                        ":seen": whole(version),
                        ":exp": whole(max([s.created_at for s in slots], default=0) + _META_TTL_SECONDS),
                    },
                }
            }
        ]
        for slot in slots:
            item = {
                **self._slot_key(owner, exam_type, slot.exam_id),
                "exam_id": string(slot.exam_id),
                "owner": string(owner),
                "exam_type": string(exam_type),
                "program": string(slot.program),
                "status": string(slot.status.value),
                "lane": string(slot.lane),
                "sections_total": whole(slot.sections_total),
                "sections_done": whole(0),
                "created_at": whole(slot.created_at),
                "updated_at": whole(slot.updated_at),
                "expires_at": whole(slot.expires_at),
            }
            items.append(
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if cancellation_codes(exc) is not None:
                return False
            raise
        return True

    def get_slot(self, owner: str, exam_type: str, exam_id: str) -> ExamSlot | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._slot_key(owner, exam_type, exam_id), ConsistentRead=True
        ).get("Item")
        return _slot_from(item) if item else None

    def fail_slot(
        self, owner: str, exam_type: str, exam_id: str, *, reason: str, now: float, expires_at: float
    ) -> bool:
        """A generating slot fails for good: it stops counting towards the target and expires after 24 h."""
        return conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._slot_key(owner, exam_type, exam_id),
            UpdateExpression="SET #status = :failed, reason = :reason, updated_at = :now, expires_at = :exp",
            ConditionExpression="#status = :generating",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":failed": string(ExamStatus.FAILED.value),
                ":generating": string(ExamStatus.GENERATING.value),
                ":reason": string(reason[:1000]),
                ":now": whole(now),
                ":exp": whole(expires_at),
            },
        )

    def promote_slot(self, owner: str, exam_type: str, exam_id: str, lane: Lane) -> bool:
        """Move a generating slot to a faster lane; True if this call did it (and so must resend its sections)."""
        return conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._slot_key(owner, exam_type, exam_id),
            UpdateExpression="SET lane = :lane",
            ConditionExpression="#status = :generating AND lane <> :lane",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":lane": string(lane.value), ":generating": string(ExamStatus.GENERATING.value)},
        )

    def claim(self, slot: ExamSlot, now: float, expires_at: float, counts: dict[str, int]) -> bool:
        """ready → claimed, atomically: the condition makes a second claim of the same exam fail, and an exam
        past its expiry (even if TTL has not deleted it yet) is never handed out. The exam item moves with it, and
        so do the learner's record, today's ``counts`` and the exam's analytics buckets."""
        values = {
            ":ready": string(ExamStatus.READY.value),
            ":claimed": string(ExamStatus.CLAIMED.value),
            ":now": whole(now),
            ":exp": whole(expires_at),
        }
        update = "SET #status = :claimed, claimed_at = :now, updated_at = :now, expires_at = :exp"
        conflicts = 0
        for attempt in range(_RECORD_TRIES):
            seen, held, since = self._read_record(slot.owner)
            change = exam_stats.claimed(seen, slot.exam_id, now)
            items = [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": key,
                        "UpdateExpression": expression,
                        "ConditionExpression": "#status = :ready AND expires_at > :now",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": values,
                    }
                }
                for key, expression in (
                    (self._slot_key(slot.owner, slot.exam_type, slot.exam_id), update),
                    (self._exam_key(slot.exam_id), "SET #status = :claimed, claimed_at = :now, expires_at = :exp"),
                )
            ]
            pending = exam_stats.merge_pending(held, self._pending(change, now, counts))
            reasons = self._with_record(slot.owner, seen, change, items, pending, since=since or now)
            if reasons is None:
                self._fold_if_due(slot.owner, change.record.version, pending, since or now, now)
                return True
            if _CONDITION_FAILED in reasons[:2]:
                return False  # a concurrent claim took it, or it just expired
            if "TransactionConflict" in reasons:
                # Another transaction touched the same item at the same moment (real DynamoDB, not a failed
                # condition): the exam may still be ready, so try it again rather than skip it.
                conflicts += 1
                if not _CONFLICTS.wait(conflicts):
                    return False
            else:  # the learner's record changed since it was read (another claim won it): read it again
                _RECORD_WAIT.wait(min(attempt + 1, 5))
        return False

    def erase_learner(self, owner: str, exam_types: list[str], now: float) -> int:
        """Delete the learner's inventories, their exams (bodies and sections) and their record, taking what the
        record adds to analytics (ready exams, the learner's bucket) out in the same transaction. Returns the
        number of items deleted."""
        deleted = sum(self._erase_inventory(owner, exam_type) for exam_type in exam_types)
        for item in self._query_all(attempts_partition(owner)):
            self.client.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})
            deleted += 1
        for _ in range(_RECORD_TRIES):
            seen, held, _since = self._read_record(owner)
            if not seen.version:
                return deleted
            change = exam_stats.erased(seen, now)
            pending = exam_stats.merge_pending(held, self._pending(change, now, {}))
            record: list[Any] = [
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": self._learner_key(owner),
                        "ConditionExpression": "version = :seen",
                        "ExpressionAttributeValues": {":seen": whole(seen.version)},
                    }
                }
            ]
            try:
                self.client.transact_write_items(TransactItems=record + self._counter_updates(pending, now))
            except ClientError as exc:
                if cancellation_codes(exc) is None:
                    raise
                continue  # a publish or claim changed the record meanwhile: read it again
            return deleted + 1
        raise Conflict(f"the exam record of {owner} kept changing: erase it again")

    def _erase_inventory(self, owner: str, exam_type: str) -> int:
        """Delete one inventory and its exams (bodies and sections); the number of items deleted."""
        deleted = 0
        exam_ids: list[str] = []
        for item in self._query_all(self._partition(owner, exam_type)):
            if item["sk"]["S"].startswith("exam#"):
                exam_ids.append(item["sk"]["S"].removeprefix("exam#"))
            self.client.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})
            deleted += 1
        for exam_id in exam_ids:
            for item in self._query_all(f"exam#{exam_id}"):
                self.client.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})
                deleted += 1
        return deleted

    def _query_all(self, pk: str) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": string(pk)},
            "ProjectionExpression": "pk, sk",
            "ConsistentRead": True,
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**request)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- the learner's record -----------------------------------------------------------------------------------------

    @staticmethod
    def _learner_key(owner: str) -> dict[str, Any]:
        return {"pk": string(f"learner#{owner}"), "sk": string("exams")}

    def learner_exams(self, owner: str) -> LearnerExams:
        return self._read_record(owner)[0]

    def _read_record(self, owner: str) -> tuple[LearnerExams, dict[str, Any] | None, float | None]:
        """The learner's record, the counter deltas it still holds (``pending``), if any, and since when."""
        item = self.client.get_item(TableName=self.table, Key=self._learner_key(owner), ConsistentRead=True).get("Item")
        if item is None:
            return LearnerExams(), None, None
        pending = _pending_from(item["pending"]) if "pending" in item else None
        since = float(item["pending_since"]["N"]) if pending and "pending_since" in item else None
        return (
            LearnerExams(
                generated=int(item["generated"]["N"]),
                claimed=int(item["claimed"]["N"]),
                expired=int(item["expired"]["N"]),
                ready={exam_id: float(v["N"]) for exam_id, v in item.get("ready", {}).get("M", {}).items()},
                until=float(item["until"]["N"]),
                version=int(item["version"]["N"]),
            ),
            pending,
            since,
        )

    def fold_pending(self, owner: str, now: float) -> bool:
        """Fold the counter deltas the learner's record holds into the global counters (the cron does this for
        every active learner). True when nothing is left to fold by this call."""
        seen, pending, _since = self._read_record(owner)
        return self._fold(owner, seen.version, pending or {}, now)

    def _fold_if_due(self, owner: str, version: int, pending: dict[str, Any], since: float, now: float) -> None:
        if pending and now - since >= FOLD_AFTER_S:
            self._fold(owner, version, pending, now)

    def _with_record(
        self,
        owner: str,
        seen: LearnerExams,
        change: exam_stats.Change,
        items: list[Any],
        pending: dict[str, Any],
        *,
        since: float,
    ) -> list[str] | None:
        """One try of ``items`` with the learner's record change: None when it was written, else why it was not
        (the cancellation reason of each item, the record's right after ``items``). The learner's items only."""
        try:
            record: list[Any] = [self._record_put(owner, seen, change, pending, since)]
            self.client.transact_write_items(TransactItems=items + record)
        except ClientError as exc:
            reasons = cancellation_codes(exc)
            if reasons is None:
                raise
            return reasons
        return None

    def _record_put(
        self, owner: str, seen: LearnerExams, change: exam_stats.Change, pending: dict[str, Any], since: float
    ) -> dict[str, Any]:
        """The learner's new record (IF unchanged since ``seen``), holding the counter deltas not folded yet (the
        change's and those it found), held since ``since``."""
        record = change.record
        item = {
            **self._learner_key(owner),
            "owner": string(owner),
            "generated": whole(record.generated),
            "claimed": whole(record.claimed),
            "expired": whole(record.expired),
            "ready": {"M": {exam_id: whole(expiry) for exam_id, expiry in record.ready.items()}},
            "until": whole(record.until),
            "version": whole(record.version),
        }
        if pending:
            # One string, not a map: every claim reads and writes it, and a map of maps costs a typed value per
            # counter to build, validate and parse on both sides (measured: 0.8x an uncounted claim's rate).
            item["pending"] = string(json.dumps(pending, separators=(",", ":"), sort_keys=True))
            item["pending_since"] = whole(since)
        put: dict[str, Any] = {"TableName": self.table, "Item": item}
        if seen.version:
            put["ConditionExpression"] = "version = :seen"
            put["ExpressionAttributeValues"] = {":seen": whole(seen.version)}
        else:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": put}

    @staticmethod
    def _pending(change: exam_stats.Change, now: float, counts: dict[str, int]) -> dict[str, Any]:
        """The counter deltas a change moves: per day (today's ``counts`` merged in) and the gauges."""
        days = change.day_counts()
        if counts:
            today = exam_stats.bucket(now)[0]
            days[today] = {**days.get(today, {}), **counts}
        return {**({"days": days} if days else {}), **({"gauges": change.gauges} if change.gauges else {})}

    def _counter_updates(self, pending: dict[str, Any], now: float) -> list[Any]:
        """Sharded counter updates for the deltas: no item is shared by every learner's writes."""
        days: dict[str, dict[str, int]] = pending.get("days", {})
        updates = [self.counters.shard_update(f"day#{day}", counts, now) for day, counts in sorted(days.items())]
        if pending.get("gauges"):
            updates.append(self.counters.shard_update(GAUGES_PK, pending["gauges"], now))
        return updates

    def _fold(self, owner: str, version: int, pending: dict[str, Any], now: float) -> bool:
        """Add the deltas the record holds at ``version`` to the global counters and remove them from it, in one
        transaction: exactly once, whoever does it. True when they are added (now or before) or carried on by a
        later version; False when it could not be done now (they stay in the record, for the next fold)."""
        if not pending:
            return True
        clear: Any = {
            "Update": {
                "TableName": self.table,
                "Key": self._learner_key(owner),
                "UpdateExpression": "REMOVE pending, pending_since",
                "ConditionExpression": "version = :v AND attribute_exists(pending)",
                "ExpressionAttributeValues": {":v": whole(version)},
            }
        }
        conflicts = 0
        while True:
            try:
                self.client.transact_write_items(TransactItems=[clear, *self._counter_updates(pending, now)])
            except ClientError as exc:
                reasons = cancellation_codes(exc)
                if reasons is None:
                    raise
                if reasons[0] == _CONDITION_FAILED:
                    # Folded already by someone else, or the record moved on: its new version carries these deltas.
                    return True
                conflicts += 1
                if not _CONFLICTS.wait(conflicts):
                    logger.warning("exam counters not folded yet", owner=owner, version=version, reasons=reasons)
                    return False
                continue
            return True

    # -- graded attempts ----------------------------------------------------------------------------------------------

    def put_attempt(self, owner: str, attempt: Attempt) -> bool:
        """Keep a graded attempt; False when the learner already submitted one for this exam (nothing written)."""
        results = [vars(r) for r in attempt.results]
        return conditional(
            self.client.put_item,
            TableName=self.table,
            Item={
                "pk": string(attempts_partition(owner)),
                "sk": string(f"attempt#{attempt.exam_id}"),
                "exam_id": string(attempt.exam_id),
                "exam_type": string(attempt.exam_type),
                "created_at": whole(attempt.submitted_at),
                "expires_at": whole(attempt.expires_at),
                "correct": whole(attempt.correct),
                "total": whole(attempt.total),
                "results": {"B": compress({"results": results})},
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_attempt(self, owner: str, exam_id: str) -> Attempt | None:
        key = {"pk": string(attempts_partition(owner)), "sk": string(f"attempt#{exam_id}")}
        item = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return Attempt(
            exam_id=exam_id,
            exam_type=item["exam_type"]["S"],
            submitted_at=float(item["created_at"]["N"]),
            expires_at=float(item["expires_at"]["N"]),
            results=[QuestionResult(**r) for r in decompress(item["results"]["B"])["results"]],
        )

    # -- the exam and its sections ----------------------------------------------------------------------------------

    def get_exam(self, exam_id: str) -> ExamRecord | None:
        item = self.client.get_item(TableName=self.table, Key=self._exam_key(exam_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        return ExamRecord(
            exam_id=exam_id,
            owner=item["owner"]["S"],
            exam_type=item["exam_type"]["S"],
            program=item["program"]["S"],
            status=ExamStatus(item["status"]["S"]),
            body=decompress(item["body"]["B"]),
            meta=deserialize(dict(item["meta"]["M"])) if "meta" in item else {},
            created_at=float(item["created_at"]["N"]),
            expires_at=float(item["expires_at"]["N"]),
            claimed_at=float(item["claimed_at"]["N"]) if "claimed_at" in item else None,
        )

    def has_section(self, exam_id: str, index: int) -> bool:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": string(f"exam#{exam_id}"), "sk": string(f"section#{index:03d}")},
            ProjectionExpression="pk",
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def put_section(self, slot: ExamSlot, index: int, body: dict[str, Any], meta: dict[str, Any]) -> bool:
        """Store a section and count it on its slot in one transaction, so a redelivered section is neither
        stored nor counted twice. False: it was already there. Raises SlotGone when the slot stopped generating."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": string(f"exam#{slot.exam_id}"),
                                "sk": string(f"section#{index:03d}"),
                                "body": {"B": compress(body)},
                                "meta": {"M": serialize(meta)},
                                "expires_at": whole(slot.expires_at),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._slot_key(slot.owner, slot.exam_type, slot.exam_id),
                            "UpdateExpression": "ADD sections_done :one",
                            "ConditionExpression": "#status = :generating",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": {
                                ":one": whole(1),
                                ":generating": string(ExamStatus.GENERATING.value),
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            reasons = cancellation_codes(exc)
            if reasons is None:
                raise
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise SlotGone(f"exam {slot.exam_id} is no longer generating") from exc
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False  # stored by an earlier delivery
            raise  # a conflict or throttling: the message is retried, never acknowledged unstored
        return True

    def read_sections(self, exam_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Every stored section of the exam, in order: (body, figures)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :section)",
            "ExpressionAttributeValues": {":pk": string(f"exam#{exam_id}"), ":section": string("section#")},
            "ConsistentRead": True,
        }
        sections: list[tuple[dict[str, Any], dict[str, Any]]] = []
        while True:
            response = self.client.query(**request)
            sections += [
                (decompress(item["body"]["B"]), deserialize(dict(item.get("meta", {}).get("M", {}))))
                for item in response.get("Items", [])
            ]
            if "LastEvaluatedKey" not in response:
                return sections  # in sort-key order: section#000, section#001, ...
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # -- a top-up's sections in Message Batches ------------------------------------------------------------------------

    @staticmethod
    def _batch_key(exam_id: str, index: int) -> dict[str, Any]:
        return {"pk": string(f"exam#{exam_id}"), "sk": string(f"batch#{index:03d}")}

    def claim_section_for_batch(self, exam_id: str, index: int, owner: str, now: float, until: float) -> BatchClaim:
        """One UpdateItem (``ddb.claim_for_batch``): the section's claim item gets ``claim`` (the owner) until
        ``until`` when it has no ``batch_id`` and no live claim; the old item says why not (``job`` is always None)."""
        key = self._batch_key(exam_id, index)
        old = claim_for_batch(self.client, self.table, key, BatchClaimShape(), owner=owner, now=now, until=until)
        return BatchClaim(won=True) if old is None else lost_batch_claim(old)

    def release_section_claim(self, exam_id: str, index: int, owner: str) -> None:
        release_batch_claim(self.client, self.table, self._batch_key(exam_id, index), BatchClaimShape(), owner)

    def record_section_batch(
        self, owner: str, spec: SectionSpec, claimer: str, batch_id: str, hold_until: float
    ) -> None:
        """The section went in ``batch_id`` (never claimed again), and its slot is kept generating until the batch's
        hold ends: a batch may take the provider's whole day, longer than a slot's generating hold."""
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._batch_key(spec.exam_id, spec.index),
            UpdateExpression="SET batch_id = :batch, claim_until = :hold, expires_at = :hold",
            ConditionExpression="claim = :owner",
            ExpressionAttributeValues=serialize({":batch": batch_id, ":hold": hold_until, ":owner": claimer}),
        )
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=self._slot_key(owner, spec.exam_type, spec.exam_id),
            UpdateExpression="SET expires_at = :hold",
            ConditionExpression="#status = :generating AND expires_at < :hold",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=serialize({":hold": hold_until, ":generating": ExamStatus.GENERATING.value}),
        )

    def lease_assembly(self, slot: ExamSlot, worker_id: str, now: float, seconds: int) -> bool:
        key = self._slot_key(slot.owner, slot.exam_type, slot.exam_id)
        return lease_assembly(
            self.client, self.table, key, worker_id=worker_id, now=now, seconds=seconds, done="sections_done"
        )

    def publish(
        self,
        slot: ExamSlot,
        body: dict[str, Any],
        meta: dict[str, Any],
        *,
        worker_id: str,
        now: float,
        expires_at: float,
        counts: dict[str, int],
    ) -> bool:
        """Store the assembled exam and make its slot ready, in one transaction (only while we hold the lease),
        with the learner's record, today's ``counts`` and the exam's analytics buckets."""
        exam_item = {
            **self._exam_key(slot.exam_id),
            "exam_id": string(slot.exam_id),
            "owner": string(slot.owner),
            "exam_type": string(slot.exam_type),
            "program": string(slot.program),
            "status": string(ExamStatus.READY.value),
            "body": {"B": compress(body)},
            "meta": {"M": serialize(meta)},
            "created_at": whole(now),
            "expires_at": whole(expires_at),
        }
        ready = {
            "Update": {
                "TableName": self.table,
                "Key": self._slot_key(slot.owner, slot.exam_type, slot.exam_id),
                "UpdateExpression": (
                    "SET #status = :ready, updated_at = :now, expires_at = :exp REMOVE assembler, assemble_until"
                ),
                "ConditionExpression": "#status = :generating AND assembler = :w",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":ready": string(ExamStatus.READY.value),
                    ":generating": string(ExamStatus.GENERATING.value),
                    ":w": string(worker_id),
                    ":now": whole(now),
                    ":exp": whole(expires_at),
                },
            }
        }
        for _ in range(_RECORD_TRIES):
            seen, held, since = self._read_record(slot.owner)
            change = exam_stats.published(seen, slot.exam_id, expires_at, now)
            items = [{"Put": {"TableName": self.table, "Item": exam_item}}, ready]
            pending = exam_stats.merge_pending(held, self._pending(change, now, counts))
            reasons = self._with_record(slot.owner, seen, change, items, pending, since=since or now)
            if reasons is None:
                self._fold_if_due(slot.owner, change.record.version, pending, since or now, now)
                return True
            if reasons[1] == _CONDITION_FAILED:
                return False  # our lease ran out and someone else assembles, or it is published already
            if reasons[2] != _CONDITION_FAILED:  # a conflict: the section is retried and assembly taken up again
                raise Conflict(f"publishing exam {slot.exam_id} was cancelled: {reasons}")
            # the learner's record changed since it was read (another of their exams): read it again
        raise Conflict(f"the learner's exam record kept changing: exam {slot.exam_id} not published yet")
