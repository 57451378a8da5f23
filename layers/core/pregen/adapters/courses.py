"""DynamoDB adapter for courses (in the exams table: the learners' assembled, per-owner artifacts).

Items (``pk``, ``sk``; TTL attribute ``expires_at``):

- ``course#<course_id>`` / ``course``          the course: owner, status, request, counts of parts done/failed/total,
                                               outline (compressed), plan figures, checks and figures when ready
- ``course#<course_id>`` / ``part#<part_id>``  one part: kind, module, lesson, content key, job id, status, reason,
                                               and when done its body (compressed) and figures
- ``course#<course_id>`` / ``judgement#<part_id>``  a background course's alignment judgement of one assessment:
                                               its Message Batch claim (``claim``, ``claim_until``), its
                                               ``batch_id``, then its ``result`` (questions, answer or error, figures)
- ``courses#<owner>`` / ``<created ms>#<id>``   the owner's index: one small item per course, newest last, so
                                               GET /v1/courses is one Query (newest first) and one BatchGetItem
- ``classcourses#<class>`` / ``<created ms>#<id>``  a class's index of the courses shared with it (written and
                                               deleted with the class share): GET /v1/courses?shared=true

A part's completion and the course's count move together in one transaction, so a redelivered part is counted
once. Every read checks ``expires_at`` in code, because TTL deletes up to ~48 h late.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import (
    BatchClaimShape,
    ConflictRetry,
    cancellation_codes,
    claim_for_batch,
    conditional,
    conditional_transaction,
    deserialize,
    dynamodb_client,
    lease_assembly,
    lost_batch_claim,
    release_batch_claim,
    serialize,
    string,
    whole,
)
from pregen.domain.codec import compress, decompress
from pregen.domain.course_shares import Share, ShareKind
from pregen.domain.courses import (
    CourseGone,
    CourseRecord,
    CourseRequest,
    CourseStatus,
    PartKind,
    PartRecord,
    PartStatus,
)
from pregen.domain.models import STORED
from pregen.domain.records import BatchClaim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_CONFLICTS = ConflictRetry(retries=8, low_s=0.005, high_s=0.03)
_INDEX = "courses#"
# A judgement already made (``result``) is not sent in a batch again.
_JUDGEMENT_CLAIM = BatchClaimShape(also_condition="attribute_not_exists(#result)", names=(("#result", "result"),))


def _course_key(course_id: str) -> dict[str, Any]:
    return {"pk": string(f"course#{course_id}"), "sk": string("course")}


def _part_key(course_id: str, part_id: str) -> dict[str, Any]:
    return {"pk": string(f"course#{course_id}"), "sk": string(f"part#{part_id}")}


def _judgement_key(course_id: str, part_id: str) -> dict[str, Any]:
    return {"pk": string(f"course#{course_id}"), "sk": string(f"judgement#{part_id}")}


def index_partition(owner: str) -> str:
    return f"{_INDEX}{owner}"


def class_partition(class_id: str) -> str:
    """A class's index of the courses shared with it: ``<course created ms>#<course id>`` lines, as the owner's."""
    return f"classcourses#{class_id}"


def _number(item: dict[str, Any], name: str, default: float = 0) -> float:
    return float(item[name]["N"]) if name in item else default


def _blob(item: dict[str, Any], name: str) -> dict[str, Any] | None:
    return decompress(item[name]["B"]) if name in item else None


def _map(item: dict[str, Any], name: str) -> dict[str, Any] | None:
    return deserialize(dict(item[name]["M"])) if name in item else None


def _course_from(item: dict[str, Any]) -> CourseRecord:
    return CourseRecord(
        course_id=item["course_id"]["S"],
        owner=item["owner"]["S"],
        status=CourseStatus(item["status"]["S"]),
        request=CourseRequest.model_validate(deserialize(dict(item["request"]["M"])), context=STORED),
        priority=int(_number(item, "priority", 50)),
        parts_total=int(_number(item, "parts_total")),
        parts_done=int(_number(item, "parts_done")),
        parts_failed=int(_number(item, "parts_failed")),
        created_at=_number(item, "created_at"),
        updated_at=_number(item, "updated_at"),
        expires_at=_number(item, "expires_at"),
        ready_at=_number(item, "ready_at") if "ready_at" in item else None,
        reason=item["reason"]["S"] if "reason" in item else None,
        outline=_blob(item, "outline"),
        plan=_map(item, "plan"),
        validation=_map(item, "validation"),
        figures=_map(item, "figures"),
        retries=int(_number(item, "retries")),
        judging=[str(v["S"]) for v in item["judging"]["L"]] if "judging" in item else None,
    )


def _part_from(item: dict[str, Any]) -> PartRecord:
    return PartRecord(
        part_id=item["part_id"]["S"],
        kind=PartKind(item["kind"]["S"]),
        module=int(item["module"]["N"]),
        lesson=int(item["lesson"]["N"]) if "lesson" in item else None,
        key=item["key"]["S"],
        job_id=item["job_id"]["S"],
        request=deserialize(dict(item["request"]["M"])),
        status=PartStatus(item["status"]["S"]),
        reason=item["reason"]["S"] if "reason" in item else None,
        reused=item["reused"]["BOOL"] if "reused" in item else None,
        body=_blob(item, "body"),
        meta=_map(item, "meta"),
        pinned=item["pinned"]["S"] if "pinned" in item else None,
    )


def _part_update(
    status: PartStatus,
    *,
    body: dict[str, Any] | None,
    meta: dict[str, Any] | None,
    reused: bool | None,
    reason: str | None,
) -> tuple[str, dict[str, Any]]:
    """The update of a part that finishes: its status, and its body, figures and reuse or its reason."""
    values: dict[str, Any] = {":status": string(status.value), ":pending": string(PartStatus.PENDING.value)}
    sets = ["#status = :status"]
    optional: dict[str, Any] = {":body": {"B": compress(body)} if body is not None else None}
    optional[":meta"] = {"M": serialize(meta)} if meta is not None else None
    optional[":reused"] = {"BOOL": reused} if reused is not None else None
    optional[":reason"] = string(reason[:1000]) if reason else None
    for placeholder, value in optional.items():
        if value is not None:
            sets.append(f"{placeholder[1:]} = {placeholder}")
            values[placeholder] = value
    update = "SET " + ", ".join(sets)
    return (update if reason else update + " REMOVE reason"), values


class DynamoCourseStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    # -- the course ---------------------------------------------------------------------------------------------------

    def _transition(
        self,
        course_id: str,
        *,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str] | None = None,
    ) -> bool:
        """One conditional update of the course item (``#status`` names its status); False when the condition
        did not hold."""
        return conditional(
            self.client.update_item,
            TableName=self.table,
            Key=_course_key(course_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status", **(names or {})},
            ExpressionAttributeValues=values,
        )

    def create(self, course: CourseRecord) -> None:
        """The course and its line in the owner's index, together."""
        item = {
            **_course_key(course.course_id),
            "course_id": string(course.course_id),
            "owner": string(course.owner),
            "status": string(course.status.value),
            "request": {"M": serialize(course.request.canonical())},
            "priority": whole(course.priority),
            "parts_total": whole(course.parts_total),
            "parts_done": whole(0),
            "parts_failed": whole(0),
            "created_at": {"N": repr(course.created_at)},
            "updated_at": {"N": repr(course.updated_at)},
            "expires_at": whole(course.expires_at),
        }
        index = {
            "pk": string(index_partition(course.owner)),
            "sk": string(f"{int(course.created_at * 1000):013d}#{course.course_id}"),
            "course_id": string(course.course_id),
            "expires_at": whole(course.expires_at),
        }
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table, "Item": index}},
            ]
        )

    def get(self, course_id: str) -> CourseRecord | None:
        item = self.client.get_item(TableName=self.table, Key=_course_key(course_id), ConsistentRead=True).get("Item")
        return _course_from(item) if item else None

    def list_page(self, owner: str, limit: int, after: str | None) -> tuple[list[CourseRecord], str | None]:
        """The owner's courses, newest first: one Query of the index, one BatchGetItem of the courses. Returns the
        page and the index position to continue after (None: the last page). The query reads one line past the
        page, so a listing that ends on a full page says so instead of naming an empty next one."""
        response = self._index_query(index_partition(owner), limit, after)
        lines = response.get("Items", [])
        last = response.get("LastEvaluatedKey")  # only when the query stopped short of limit + 1 (its 1 MB)
        following = last["sk"]["S"] if last else None
        if len(lines) > limit:
            lines = lines[:limit]
            following = lines[-1]["sk"]["S"]
        ids = [line["course_id"]["S"] for line in lines]
        found = self._batch_get(ids)
        courses = [found[course_id] for course_id in ids if course_id in found]
        return courses, following

    def _index_query(self, partition: str, limit: int, after: str | None) -> Any:
        """One Query of an index partition (an owner's or a class's), newest first, one line past ``limit``."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": string(partition)},
            "ScanIndexForward": False,
            "Limit": limit + 1,
        }
        if after is not None:
            request["ExclusiveStartKey"] = {"pk": string(partition), "sk": string(after)}
        return self.client.query(**request)

    def _batch_get(self, ids: list[str]) -> dict[str, CourseRecord]:
        found: dict[str, CourseRecord] = {}
        keys = [_course_key(course_id) for course_id in ids]
        while keys:
            response = self.client.batch_get_item(
                RequestItems={self.table: {"Keys": keys[:100], "ConsistentRead": True}}
            )
            for item in response.get("Responses", {}).get(self.table, []):
                course = _course_from(item)
                found[course.course_id] = course
            unprocessed: Any = response.get("UnprocessedKeys") or {}
            keys = keys[100:] + list(unprocessed.get(self.table, {}).get("Keys", []))
        return found

    def start_generating(self, course_id: str, outline: dict[str, Any], plan: dict[str, Any], now: float) -> bool:
        """planning → generating, with the outline and its figures. False: it was not planning any more."""
        return self._transition(
            course_id,
            update=(
                "SET #status = :generating, outline_status = :generating, outline = :outline, #plan = :plan, "
                "updated_at = :now"
            ),
            condition="#status = :planning",
            values={
                ":generating": string(CourseStatus.GENERATING.value),
                ":planning": string(CourseStatus.PLANNING.value),
                ":outline": {"B": compress(outline)},
                ":plan": {"M": serialize(plan)},
                ":now": {"N": repr(now)},
            },
            names={"#plan": "plan"},
        )

    def fail(self, course_id: str, now: float, *, reason: str | None = None) -> bool:
        """planning or generating → failed (a failed plan keeps its reason; failed parts keep theirs)."""
        values: dict[str, Any] = {
            ":failed": string(CourseStatus.FAILED.value),
            ":planning": string(CourseStatus.PLANNING.value),
            ":generating": string(CourseStatus.GENERATING.value),
            ":now": {"N": repr(now)},
        }
        update = "SET #status = :failed, updated_at = :now"
        if reason:
            update += ", reason = :reason"
            values[":reason"] = string(reason[:1000])
        return self._transition(
            course_id,
            update=update,
            condition="#status IN (:planning, :generating)",
            values=values,
        )

    def reopen(self, course_id: str, now: float) -> bool:
        """failed → generating for a retry (failed parts were set back to pending first); a failed plan → planning."""
        return self._transition(
            course_id,
            update=(
                "SET #status = if_not_exists(outline_status, :planning), parts_failed = :zero, updated_at = :now "
                "ADD retries :one REMOVE reason"
            ),
            condition="#status = :failed",
            values={
                ":failed": string(CourseStatus.FAILED.value),
                ":planning": string(CourseStatus.PLANNING.value),
                ":zero": whole(0),
                ":one": whole(1),
                ":now": {"N": repr(now)},
            },
        )

    # -- parts --------------------------------------------------------------------------------------------------------

    def put_parts(self, course_id: str, parts: list[PartRecord], expires_at: float) -> None:
        """Write the parts that are not there yet (a redelivered plan leaves parts already under way alone)."""
        for part in parts:
            item = {
                **_part_key(course_id, part.part_id),
                "part_id": string(part.part_id),
                "kind": string(part.kind.value),
                "module": whole(part.module),
                "key": string(part.key),
                "job_id": string(part.job_id),
                "request": {"M": serialize(part.request)},
                "status": string(part.status.value),
                "expires_at": whole(expires_at),
            }
            if part.lesson is not None:
                item["lesson"] = whole(part.lesson)
            conditional(
                self.client.put_item, TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)"
            )

    def get_part(self, course_id: str, part_id: str) -> PartRecord | None:
        item = self.client.get_item(TableName=self.table, Key=_part_key(course_id, part_id), ConsistentRead=True).get(
            "Item"
        )
        return _part_from(item) if item else None

    def read_parts(self, course_id: str, *, bodies: bool = False) -> list[PartRecord]:
        """Every part, in course order (their ids sort so); without their bodies unless asked."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :part)",
            "ExpressionAttributeValues": {":pk": string(f"course#{course_id}"), ":part": string("part#")},
            "ConsistentRead": True,
        }
        if not bodies:
            # Every name through a placeholder: several (key, status, request, module) are reserved words.
            names = (
                *("part_id", "kind", "module", "lesson", "key", "job_id", "request", "status", "reason", "reused"),
                "pinned",
            )
            request["ProjectionExpression"] = ", ".join(f"#{n}" for n in (*names, "meta"))
            request["ExpressionAttributeNames"] = {f"#{n}": n for n in (*names, "meta")}
        parts: list[PartRecord] = []
        while True:
            response = self.client.query(**request)
            parts += [_part_from(item) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return parts
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def pin_part(self, course_id: str, part_id: str, version_id: str | None) -> bool:
        """Pin a part to a library version (None: unpin, so it serves its key's served version again). False: the
        part is gone, or (unpinning) it was not pinned."""
        if version_id is None:
            update, condition, values = "REMOVE pinned", "attribute_exists(pinned)", None
        else:
            update, condition, values = "SET pinned = :v", "attribute_exists(pk)", {":v": string(version_id)}
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": _part_key(course_id, part_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        return conditional(self.client.update_item, **request)

    def finish_part(
        self,
        course_id: str,
        part_id: str,
        *,
        status: PartStatus,
        now: float,
        body: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
        reused: bool | None = None,
        reason: str | None = None,
    ) -> bool:
        """pending → done or failed, counted on the course in the same transaction. False: the part was finished
        already (a redelivery). Raises CourseGone when the course is no longer generating."""
        counter = "parts_done" if status is PartStatus.DONE else "parts_failed"
        names = {"#status": "status"}
        update, values = _part_update(status, body=body, meta=meta, reused=reused, reason=reason)
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _part_key(course_id, part_id),
                    "UpdateExpression": update,
                    "ConditionExpression": "#status = :pending",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": _course_key(course_id),
                    "UpdateExpression": f"ADD {counter} :one SET updated_at = :now",
                    "ConditionExpression": "#status = :generating",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": {
                        ":one": whole(1),
                        ":now": {"N": repr(now)},
                        ":generating": string(CourseStatus.GENERATING.value),
                    },
                }
            },
        ]
        for attempt in range(_CONFLICTS.retries + 1):
            try:
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                reasons = cancellation_codes(exc)
                if reasons is None:
                    raise
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise CourseGone(f"course {course_id} is no longer generating") from exc
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return False
                if "TransactionConflict" in reasons and _CONFLICTS.wait(attempt + 1):
                    continue  # parts finishing at the same moment all count on the course item
                raise
            return True
        return False  # pragma: no cover - the loop returns or raises

    def reset_failed_parts(self, course_id: str, new_job_ids: dict[str, str]) -> int:
        """failed → pending with a new job id each (a retry generates afresh); returns how many were reset."""
        reset = 0
        for part_id, job_id in new_job_ids.items():
            reset += conditional(
                self.client.update_item,
                TableName=self.table,
                Key=_part_key(course_id, part_id),
                UpdateExpression="SET #status = :pending, job_id = :job REMOVE reason",
                ConditionExpression="#status = :failed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": string(PartStatus.PENDING.value),
                    ":failed": string(PartStatus.FAILED.value),
                    ":job": string(job_id),
                },
            )
        return reset

    # -- assembly -----------------------------------------------------------------------------------------------------

    def lease_assembly(self, course_id: str, worker_id: str, now: float, seconds: int) -> bool:
        return lease_assembly(
            self.client,
            self.table,
            _course_key(course_id),
            worker_id=worker_id,
            now=now,
            seconds=seconds,
            done="parts_done",
        )

    def publish(
        self,
        course_id: str,
        *,
        validation: dict[str, Any],
        figures: dict[str, Any],
        worker_id: str,
        now: float,
        judging: list[str] | None = None,
    ) -> bool:
        """generating → ready with its checks and figures, only while this worker holds the assembly lease.
        ``judging``: the assessments whose alignment judgements are still in a Message Batch (``settle_alignment``
        replaces the pending check once they are all in)."""
        values = {
            ":ready": string(CourseStatus.READY.value),
            ":generating": string(CourseStatus.GENERATING.value),
            ":validation": {"M": serialize(validation)},
            ":figures": {"M": serialize(figures)},
            ":w": string(worker_id),
            ":now": {"N": repr(now)},
        }
        pending = ""
        if judging:
            pending, values[":judging"] = ", judging = :judging", {"L": [string(p) for p in judging]}
        return self._transition(
            course_id,
            update=(
                "SET #status = :ready, validation = :validation, figures = :figures, ready_at = :now, "
                f"updated_at = :now{pending} REMOVE assembler, assemble_until"
            ),
            condition="#status = :generating AND assembler = :w",
            values=values,
        )

    # -- a background course's alignment judgements (Message Batches) ------------------------------------------------

    def claim_judgement_for_batch(
        self, course_id: str, part_id: str, owner: str, now: float, until: float
    ) -> BatchClaim:
        """One UpdateItem (``ddb.claim_for_batch``): the judgement's item gets ``claim`` until ``until`` when it has
        no ``batch_id``, no ``result`` and no live claim; the old item says why not (``job`` is None; a judgement
        already made reads as the batch id ``result``)."""
        key = _judgement_key(course_id, part_id)
        old = claim_for_batch(self.client, self.table, key, _JUDGEMENT_CLAIM, owner=owner, now=now, until=until)
        if old is None:
            return BatchClaim(won=True)
        lost = lost_batch_claim(old)
        return replace(lost, batch_id=lost.batch_id or ("result" if "result" in old else None))

    def release_judgement_claim(self, course_id: str, part_id: str, owner: str) -> None:
        release_batch_claim(self.client, self.table, _judgement_key(course_id, part_id), BatchClaimShape(), owner)

    def record_judgement_batch(
        self, course_id: str, part_id: str, claimer: str, batch_id: str, hold_until: float
    ) -> None:
        """The judgement went in ``batch_id``: never claimed again."""
        conditional(
            self.client.update_item,
            TableName=self.table,
            Key=_judgement_key(course_id, part_id),
            UpdateExpression="SET batch_id = :batch, expires_at = :hold",
            ConditionExpression="claim = :claimer",
            ExpressionAttributeValues=serialize({":batch": batch_id, ":hold": hold_until, ":claimer": claimer}),
        )

    def put_judgement(self, course_id: str, part_id: str, result: dict[str, Any], expires_at: float) -> bool:
        """The judgement's result (the first written wins: a redelivered result is False)."""
        return conditional(
            self.client.update_item,
            TableName=self.table,
            Key=_judgement_key(course_id, part_id),
            UpdateExpression="SET #result = :result, expires_at = :expires",
            ConditionExpression="attribute_not_exists(#result)",
            ExpressionAttributeNames={"#result": "result"},
            ExpressionAttributeValues={
                # JSON text, not a map: questions and reasons are free text the DynamoDB types need not parse.
                ":result": string(json.dumps(result, separators=(",", ":"))),
                ":expires": whole(expires_at),
            },
        )

    def read_judgements(self, course_id: str) -> dict[str, dict[str, Any]]:
        """The course's judgement results by part id (one Query; items without a result left out)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :judgement)",
            "ExpressionAttributeValues": {":pk": string(f"course#{course_id}"), ":judgement": string("judgement#")},
            "ConsistentRead": True,
        }
        found: dict[str, dict[str, Any]] = {}
        while True:
            page = self.client.query(**request)
            for item in page.get("Items", []):
                if "result" in item:
                    found[item["sk"]["S"].removeprefix("judgement#")] = json.loads(item["result"]["S"])
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def settle_alignment(self, course_id: str, *, validation: dict[str, Any], figures: dict[str, Any]) -> bool:
        """The ready course's pending alignment check replaced (and its figures with the judgements' cost), once:
        False when it was settled already (or the course is gone)."""
        return self._transition(
            course_id,
            update="SET validation = :validation, figures = :figures REMOVE judging",
            condition="#status = :ready AND attribute_exists(judging)",
            values={
                ":ready": string(CourseStatus.READY.value),
                ":validation": {"M": serialize(validation)},
                ":figures": {"M": serialize(figures)},
            },
        )

    # -- shares: items of the course's partition, so they go with it ------------------------------------------------

    def put_share(self, course_id: str, share: Share, expires_at: float, *, listed_at: float) -> None:
        """Add a share (again: the same class shared twice is one item) expiring with the course. A class share
        also puts the course in its class's index (same transaction), at ``listed_at`` (the course's creation), so
        the class's members list it with one Query."""
        item = {
            "pk": f"course#{course_id}",
            "sk": f"share#{share.share_id}",
            "kind": share.kind.value,
            "created_at": round(share.created_at, 3),
            "class_id": share.class_id,
            "secret_hash": share.secret_hash,
        }
        stored = serialize({k: v for k, v in item.items() if v is not None}) | {"expires_at": whole(expires_at)}
        if share.class_id is None:
            self.client.put_item(TableName=self.table, Item=stored)
            return
        line = {
            "pk": string(class_partition(share.class_id)),
            "sk": string(f"{int(listed_at * 1000):013d}#{course_id}"),
            "course_id": string(course_id),
            "expires_at": whole(expires_at),
        }
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": stored}},
                {"Put": {"TableName": self.table, "Item": line}},
            ]
        )

    def list_class_page(self, class_id: str, limit: int, after: str | None) -> tuple[list[tuple[str, str]], bool]:
        """One class's index, newest first: up to ``limit`` lines (index position, course id) after ``after``, and
        whether it holds more."""
        response = self._index_query(class_partition(class_id), limit, after)
        lines = [(line["sk"]["S"], line["course_id"]["S"]) for line in response.get("Items", [])]
        return lines[:limit], len(lines) > limit or "LastEvaluatedKey" in response

    def get_many(self, course_ids: list[str]) -> dict[str, CourseRecord]:
        """The courses that exist among ``course_ids``: one BatchGetItem per 100."""
        return self._batch_get(course_ids)

    def get_shares(self, course_id: str, share_ids: list[str]) -> list[Share]:
        """The named shares that exist: one BatchGetItem (a reader's classes and link; a handful of small items)."""
        keys = [{"pk": string(f"course#{course_id}"), "sk": string(f"share#{s}")} for s in dict.fromkeys(share_ids)]
        found: list[Share] = []
        while keys:
            response = self.client.batch_get_item(
                RequestItems={self.table: {"Keys": keys[:100], "ConsistentRead": True}}
            )
            found += [_share_from(item) for item in response.get("Responses", {}).get(self.table, [])]
            unprocessed: Any = response.get("UnprocessedKeys") or {}
            keys = keys[100:] + list(unprocessed.get(self.table, {}).get("Keys", []))
        return found

    def list_shares(self, course_id: str) -> list[Share]:
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :share)",
            ExpressionAttributeValues={":pk": string(f"course#{course_id}"), ":share": string("share#")},
            ConsistentRead=True,
        )
        return [_share_from(item) for item in response.get("Items", [])]

    def delete_share(self, course_id: str, share_id: str, *, listed_at: float) -> bool:
        """Revoke a share, and a class share's line in its class's index in the same transaction; False when there
        was none."""
        key = {"pk": string(f"course#{course_id}"), "sk": string(f"share#{share_id}")}
        class_id = share_id.removeprefix(f"{ShareKind.CLASS.value}-") if share_id.startswith("class-") else None
        if class_id is None:
            response = self.client.delete_item(TableName=self.table, Key=key, ReturnValues="ALL_OLD")
            return bool(response.get("Attributes"))
        line = {
            "pk": string(class_partition(class_id)),
            "sk": string(f"{int(listed_at * 1000):013d}#{course_id}"),
        }
        return conditional_transaction(
            self.client,
            [
                {"Delete": {"TableName": self.table, "Key": key, "ConditionExpression": "attribute_exists(pk)"}},
                {"Delete": {"TableName": self.table, "Key": line}},
            ],
        )


def _share_from(item: dict[str, Any]) -> Share:
    data = deserialize(item)
    return Share(
        share_id=str(data["sk"]).removeprefix("share#"),
        kind=ShareKind(str(data["kind"])),
        created_at=float(data.get("created_at") or 0),
        class_id=data.get("class_id"),
        secret_hash=data.get("secret_hash"),
    )
