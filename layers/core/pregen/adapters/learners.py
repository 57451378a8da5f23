"""Where a learner's personal data lives, in every table: listed for ``GET /v1/me/content``, erased for
``DELETE /v1/me``. Nothing here scans: every item is reached by a key built from the learner's id or by the
tables' sparse ``learner`` indexes.

- ContentTable: each personal key's whole partition (content, stats, in-flight marker, versions and their
  counters), found by the ``learner`` index on the content and version items (or by a personal job's key), and
  the learner's votes on shared content (vote items, same index).
- JobsTable: personal jobs (``learner`` index).
- ExamsTable: the inventory partitions ``inv#<sub>#<exam type>``, their exams ``exam#<id>`` (body and sections)
  and the record ``learner#<sub>`` with what it adds to analytics (``DynamoExamInventory.erase_learner``); the
  learner's courses: the index ``courses#<sub>`` and each ``course#<id>`` partition (the course and its parts); their
  graded exam attempts ``attempts#<sub>``.
- CountersTable: the learner's cost items ``learner#<sub>``/``day#<D>`` and rate-limit windows ``limit#<sub>`` (their
  partitions), and the activity index ``active#<D>#<shard>``/``<sub>`` of every day it keeps.

Shared content, the day totals and a version's vote counts stay: they are about content, not the learner (an
erased vote's +1 stays in its version's counts, anonymous). A course's parts are shared content too (its lessons,
brain bytes, assessments and outline are keyed by what they teach); only the course itself is the learner's. Its
Idempotency-Key record (keyed by a hash, holding only the course id) expires within 24 h.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import deserialize, dynamodb_client, string
from pregen.adapters.exams import attempts_partition
from pregen.domain.records import Erased

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.adapters.activity import DynamoActivity
    from pregen.adapters.exams import DynamoExamInventory

INDEX = "learner"
_BATCH = 25  # BatchWriteItem's limit
# The phases of a listing, in order: the content index (personal content's versions, votes), jobs, exams, courses,
# graded exam attempts (last: a cursor signed before attempts existed still names the same phase).
PHASES = ("content", "jobs", "exams", "courses", "attempts")


class DynamoLearnerData:
    def __init__(
        self,
        *,
        content_table: str,
        jobs_table: str,
        counters_table: str,
        exams: DynamoExamInventory,
        activity: DynamoActivity,
        exam_types: list[str],
        activity_days: int,
        client: DynamoDBClient | None = None,
    ) -> None:
        self.content_table, self.jobs_table, self.counters_table = content_table, jobs_table, counters_table
        self.exams, self.activity = exams, activity
        self.exam_types = sorted(exam_types)
        self.activity_days = activity_days
        self.client = client or dynamodb_client()

    # -- listing ---------------------------------------------------------------------------------------------------

    def page(
        self, sub: str, phase: int, part: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[int, int, dict[str, Any] | None] | None]:
        """One page of the learner's items from the listing's ``phase`` (and, for exams, exam type ``part``), and
        where the next page starts (None: the listing is complete)."""
        if phase >= len(PHASES) or (PHASES[phase] == "exams" and part >= len(self.exam_types)):
            return [], None
        request: dict[str, Any] = {"Limit": limit}
        if start:
            request["ExclusiveStartKey"] = start
        if PHASES[phase] == "content":
            request |= self._index_query(self.content_table, sub)
        elif PHASES[phase] == "jobs":
            request |= self._index_query(self.jobs_table, sub) | {"ScanIndexForward": False}
        elif PHASES[phase] == "exams":
            request |= self._partition_query(self.exams.table, f"inv#{sub}#{self.exam_types[part]}")
        elif PHASES[phase] == "courses":
            request |= self._partition_query(self.exams.table, f"courses#{sub}") | {"ScanIndexForward": False}
        else:
            request |= self._partition_query(self.exams.table, attempts_partition(sub))
        response = self.client.query(**request)
        items = [_listed(PHASES[phase], deserialize(item)) for item in response.get("Items", [])]
        following = response.get("LastEvaluatedKey")
        if following:
            return [i for i in items if i], (phase, part, following)
        if PHASES[phase] == "exams" and part + 1 < len(self.exam_types):
            return [i for i in items if i], (phase, part + 1, None)
        if phase + 1 < len(PHASES):
            return [i for i in items if i], (phase + 1, 0, None)
        return [i for i in items if i], None

    @staticmethod
    def _index_query(table: str, sub: str) -> dict[str, Any]:
        return {
            "TableName": table,
            "IndexName": INDEX,
            "KeyConditionExpression": "learner = :sub",
            "ExpressionAttributeValues": {":sub": string(sub)},
        }

    @staticmethod
    def _partition_query(table: str, pk: str) -> dict[str, Any]:
        return {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": string(pk)},
            "ConsistentRead": True,
        }

    def _all(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        while True:
            response = self.client.query(**request)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}

    # -- erasure -----------------------------------------------------------------------------------------------------

    def erase(self, sub: str, now: float, *, job_ids: list[str], keys: list[str]) -> Erased:
        """Delete every personal item of ``sub``; ``job_ids`` and ``keys`` (what an earlier pass found) are deleted
        again whether or not the indexes still show them. Idempotent: a pass over nothing deletes nothing."""
        erased = Erased(job_ids=list(job_ids), keys=list(keys))
        votes: list[dict[str, Any]] = []
        for item in self._all(self._index_query(self.content_table, sub)):
            if item["sk"]["S"].startswith("vote#"):
                votes.append({"pk": item["pk"], "sk": item["sk"]})
            elif item["pk"]["S"] not in erased.keys:
                erased.keys.append(item["pk"]["S"])
        for item in self._all(self._index_query(self.jobs_table, sub)):
            job_id = item["pk"]["S"].removeprefix("job#")
            if job_id not in erased.job_ids:
                erased.job_ids.append(job_id)
            key = item.get("key", {}).get("S")
            if key and key not in erased.keys:
                erased.keys.append(key)
        erased.count(self.content_table, self._delete(self.content_table, votes))
        for key in erased.keys:
            partition = [
                {"pk": i["pk"], "sk": i["sk"]} for i in self._all(self._partition_query(self.content_table, key))
            ]
            erased.count(self.content_table, self._delete(self.content_table, partition))
        jobs = [{"pk": string(f"job#{job_id}"), "sk": string("job")} for job_id in erased.job_ids]
        erased.count(self.jobs_table, self._delete(self.jobs_table, jobs))
        erased.count(self.exams.table, self.exams.erase_learner(sub, self.exam_types, now))
        erased.count(self.exams.table, self._erase_courses(sub))
        erased.count(self.counters_table, self._delete(self.counters_table, self._counter_keys(sub, now)))
        return erased

    def _erase_courses(self, sub: str) -> int:
        """Each course of the learner (the course and its parts), then their index."""
        index = [
            {"pk": i["pk"], "sk": i["sk"], "id": i["course_id"]}
            for i in self._all(self._partition_query(self.exams.table, f"courses#{sub}"))
        ]
        deleted = 0
        for line in index:
            course = self._partition_query(self.exams.table, f"course#{line['id']['S']}")
            deleted += self._delete(self.exams.table, [{"pk": i["pk"], "sk": i["sk"]} for i in self._all(course)])
        return deleted + self._delete(self.exams.table, [{"pk": i["pk"], "sk": i["sk"]} for i in index])

    def _counter_keys(self, sub: str, now: float) -> list[dict[str, Any]]:
        """The learner's cost items and rate-limit windows (their partitions), and the activity index's days."""
        today = dt.datetime.fromtimestamp(now, tz=dt.UTC).date()
        shard = self.activity.shard_of(sub)
        keys = [
            {"pk": string(f"active#{(today - dt.timedelta(days=i)).isoformat()}#{shard}"), "sk": string(sub)}
            for i in range(-1, self.activity_days + 1)
        ]
        for pk in (f"learner#{sub}", f"limit#{sub}"):
            keys += [{"pk": i["pk"], "sk": i["sk"]} for i in self._all(self._partition_query(self.counters_table, pk))]
        return keys

    def _delete(self, table: str, keys: list[dict[str, Any]]) -> int:
        """BatchWriteItem deletes, 25 at a time, until nothing is left unprocessed. Deleting a key that holds no item
        is not an error, so the count is of the keys asked for."""
        for start in range(0, len(keys), _BATCH):
            request: Any = {table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + _BATCH]]}
            while request:
                request = self.client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
        return len(keys)


def _content(item: dict[str, Any]) -> dict[str, Any] | None:
    sk = str(item.get("sk", ""))
    if sk.startswith("version#"):
        return {
            "type": "content",
            "content_id": sk.removeprefix("version#"),
            "key": item["pk"],
            "kind": item.get("kind"),
            "created_at": int(item.get("created_at", 0)),
            "expires_at": int(item.get("expires_at", 0)),
        }
    if sk.startswith("vote#"):
        return {
            "type": "vote",
            "content_id": sk.split("#")[1],
            "key": item["pk"],
            "vote": item.get("vote"),
            "voted_at": int(item.get("voted_at", 0)),
            "expires_at": int(item.get("expires_at", 0)),
        }
    return None  # the served copy of a version already listed


def _job(item: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "type": "job",
        "job_id": str(item["pk"]).removeprefix("job#"),
        "key": item.get("key"),
        "kind": item.get("kind"),
        "status": item.get("status"),
        "created_at": int(item.get("created_at", 0)),
        "expires_at": int(item.get("expires_at", 0)),
    }


def _exam(item: dict[str, Any]) -> dict[str, Any] | None:
    if not str(item.get("sk", "")).startswith("exam#"):
        return None  # the inventory's version item
    return {
        "type": "exam",
        "exam_id": item["exam_id"],
        "exam_type": item["exam_type"],
        "status": item["status"],
        "created_at": int(item["created_at"]),
        "expires_at": int(item["expires_at"]),
    }


def _course(item: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "type": "course",
        "course_id": item["course_id"],
        "created_at": int(str(item["sk"]).split("#", maxsplit=1)[0]) // 1000,
        "expires_at": int(item.get("expires_at", 0)),
    }


def _attempt(item: dict[str, Any]) -> dict[str, Any] | None:
    return {
        "type": "attempt",
        "exam_id": item["exam_id"],
        "exam_type": item["exam_type"],
        "status": "graded",
        "correct": int(item["correct"]),
        "total": int(item["total"]),
        "created_at": int(item["created_at"]),
        "expires_at": int(item["expires_at"]),
    }


_LISTED = {"content": _content, "jobs": _job, "exams": _exam, "courses": _course, "attempts": _attempt}


def _listed(phase: str, item: dict[str, Any]) -> dict[str, Any] | None:
    """An index or partition item as the listing shows it (None: not one the listing shows)."""
    return _LISTED[phase](item)
