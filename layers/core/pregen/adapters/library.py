"""DynamoDB adapter of the shared lesson library: versions, their counter items and learners' votes.

All in the content table, next to the key's ``content`` / ``stats`` / ``inflight`` items (``pk`` = cache key):

- ``version#<content_id>``        one version's compressed body and figures (written once, never by a read)
- ``vstats#<content_id>``         the version's small counter item: up/down votes, status, served flag, usage,
                                  figures and the canonical request (to regenerate it)
- ``vote#<content_id>#<sub>``     one learner's vote on one version (the key of "one vote per learner")
- ``catalogue#lesson#<grade>#<subject>#<language>`` / ``<key>``: a shared lesson's entry in its subject's
                                  catalogue (title, objectives, canonical request), written with its first version
                                  (same transaction), expiring with it: what a course planner is offered
- ``content``                     the served (best) version, denormalised so a hit stays ONE GetItem; rewritten
                                  only when the ranking changes, in a transaction conditional on which version
                                  it held, never by a read

Queries stay inside one partition (one key), never a scan: a key holds a handful of versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from pregen.adapters.ddb import (
    cancelled_on_condition,
    condition_failed,
    conditional_transaction,
    content_from_item,
    content_item,
    deserialize,
    dynamodb_client,
    number,
    serialize,
    string,
    whole,
)
from pregen.domain.courses import LibraryLesson, catalogue_entry
from pregen.domain.library import Version, VersionStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from pregen.domain.library import VoteReason, VoteValue
    from pregen.domain.records import StoredContent

_FIGURES = (
    "validation_score",
    "validation_checks",
    "estimated_minutes",
    "latency_ms",
    "tokens",
    "model",
    "generator",
    "cost_usd",
)


class DynamoLibraryStore:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, key: str, sk: str) -> dict[str, Any]:
        return {"pk": string(key), "sk": string(sk)}

    # -- versions --------------------------------------------------------------------------------------------------

    def add_version(self, content: StoredContent, version: Version, *, supersedes: str | None = None) -> None:
        """Store a new valid version (body + counter item); if it replaces one, mark that one superseded."""
        items = self.version_writes(content, version, supersedes=supersedes)
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if not (supersedes and cancelled_on_condition(exc)):
                raise
            self.client.transact_write_items(TransactItems=items[:-1])  # the replaced version is gone (expired)

    def version_writes(self, content: StoredContent, version: Version, *, supersedes: str | None = None) -> list[Any]:
        """The transaction items of ``add_version``: the version's body, its counter item, a first shared lesson's
        catalogue entry and, last, the superseded version's status (conditional on that version still existing)."""
        stats = {
            "pk": version.key,
            "sk": f"vstats#{version.version_id}",
            "kind": version.kind,
            "status": version.status.value,
            "up": 0,
            "down": 0,
            "is_best": version.is_best,
            "uses": 0,
            "hits_at_best": version.hits_at_best,
            "created_at": round(version.created_at, 3),  # sub-second: "newest" breaks ties
            "expires_at": int(version.expires_at),
            "request": version.request,
            "owner": version.owner,
            "regenerate_of": version.regenerate_of,
            "figures": version.figures,
        }
        items: list[Any] = [
            {"Put": {"TableName": self.table, "Item": content_item(content, f"version#{version.version_id}")}},
            {"Put": {"TableName": self.table, "Item": serialize(stats)}},
        ]
        entry = catalogue_entry(version.request) if content.owner is None and version.is_best else None
        if entry is not None:
            scope, fields = entry
            listed = {"pk": scope, "sk": version.key, **fields, "request": version.request}
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": serialize(listed) | {"expires_at": whole(version.expires_at)},
                    }
                }
            )
        if supersedes:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(version.key, f"vstats#{supersedes}"),
                        "UpdateExpression": "SET #status = :superseded",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":superseded": string(VersionStatus.SUPERSEDED.value)},
                    }
                }
            )
        return items

    def get_version(self, key: str, version_id: str, now: float) -> Version | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(key, f"vstats#{version_id}"), ConsistentRead=True
        ).get("Item")
        version = _version(deserialize(item)) if item else None
        return version if version is not None and version.expires_at > now else None

    def list_versions(self, key: str, now: float) -> list[Version]:
        """Every live version's counter item: one Query on the key's partition (small items only)."""
        versions: list[Version] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": string(key), ":prefix": string("vstats#")},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**request)
            versions += [v for item in response.get("Items", []) if (v := _version(deserialize(item))).expires_at > now]
            if "LastEvaluatedKey" not in response:
                return versions
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_body(self, key: str, version_id: str) -> StoredContent | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(key, f"version#{version_id}"), ConsistentRead=True
        ).get("Item")
        return content_from_item(key, item) if item else None

    def served_bodies(
        self, wanted: list[tuple[str, str | None]], now: float
    ) -> dict[tuple[str, str | None], StoredContent]:
        """The bodies a course serves: for each (key, pinned version id or None) the pinned version's item, or the
        key's served ``content`` item. One BatchGetItem per 100 (eventually consistent: the served version moves
        only on a re-rank); what is gone or expired is left out."""
        by_item = {(key, f"version#{pin}" if pin else "content"): (key, pin) for key, pin in wanted}
        keys = [self._key(key, sk) for key, sk in by_item]
        found: dict[tuple[str, str | None], StoredContent] = {}
        while keys:
            response = self.client.batch_get_item(RequestItems={self.table: {"Keys": keys[:100]}})
            for item in response.get("Responses", {}).get(self.table, []):
                content = content_from_item(item["pk"]["S"], item)
                if content.expires_at > now:
                    found[by_item[content.key, item["sk"]["S"]]] = content
            unprocessed: Any = response.get("UnprocessedKeys") or {}
            keys = keys[100:] + list(unprocessed.get(self.table, {}).get("Keys", []))
        return found

    def lesson_catalogue(self, scope: str, now: float, limit: int) -> list[LibraryLesson]:
        """One Query page of a catalogue scope (``Limit`` = ``limit``, small items; never a scan), expired entries
        left out (TTL deletes them later)."""
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": string(scope)},
            Limit=limit,
        )
        lessons = []
        for item in response.get("Items", []):
            entry = deserialize(item)
            if float(entry.get("expires_at") or 0) > now:
                lessons.append(
                    LibraryLesson(
                        key=str(entry["sk"]),
                        title=str(entry["title"]),
                        objectives=[str(o) for o in entry.get("objectives") or []],
                        request=dict(entry["request"]),
                    )
                )
        return lessons

    def backfill_catalogue(
        self, start: dict[str, Any] | None, limit: int, now: float
    ) -> tuple[int, int, dict[str, Any] | None]:
        """One Scan page of the table (``limit`` items read; the filter keeps served version counters), never on a
        request's path: an operator's one-off task. A catalogue entry Put, as ``add_version`` writes it, for each
        served shared lesson still live; the same Put again changes nothing, so the task can resume anywhere."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Limit": limit,
            "FilterExpression": "begins_with(sk, :vstats) AND is_best = :yes AND kind = :lesson",
            "ExpressionAttributeValues": {
                ":vstats": string("vstats#"),
                ":yes": {"BOOL": True},
                ":lesson": string("lesson"),
            },
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = self.client.scan(**request)
        puts = []
        for item in response.get("Items", []):
            stats = deserialize(item)
            if stats.get("owner") or float(stats.get("expires_at") or 0) <= now:
                continue  # personal content is never offered; an expired lesson waits for TTL
            entry = catalogue_entry(dict(stats.get("request") or {}))
            if entry is None:
                continue
            scope, fields = entry
            listed = {"pk": scope, "sk": str(stats["pk"]), **fields, "request": stats["request"]}
            puts.append({"PutRequest": {"Item": serialize(listed) | {"expires_at": whole(stats["expires_at"])}}})
        for i in range(0, len(puts), 25):
            pending: Any = {self.table: puts[i : i + 25]}
            while pending:
                pending = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or None
        return int(response.get("ScannedCount", 0)), len(puts), response.get("LastEvaluatedKey")

    def key_hits(self, key: str) -> int:
        item = self.client.get_item(TableName=self.table, Key=self._key(key, "stats"), ConsistentRead=True).get("Item")
        return int(item["hits"]["N"]) if item and "hits" in item else 0

    def promote(self, body: StoredContent, new: Version, old: Version | None, key_hits: int, now: float) -> bool:
        """Serve ``new`` instead of ``old``: rewrite ``content`` and move the served flag, in one transaction.

        Conditional on ``content`` still holding ``old``: of two concurrent re-rankings one wins, the other
        gets False and ranks again from what is now stored.
        """
        if old is None:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(meta.version_id) OR expires_at < :now",
                "ExpressionAttributeValues": {":now": whole(now)},
            }
        else:
            condition = {
                "ConditionExpression": "meta.version_id = :old",
                "ExpressionAttributeValues": {":old": string(old.version_id)},
            }
        items: list[Any] = [
            {"Put": {"TableName": self.table, "Item": content_item(body), **condition}},
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(new.key, f"vstats#{new.version_id}"),
                    "UpdateExpression": "SET is_best = :t, hits_at_best = :h",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":t": {"BOOL": True}, ":h": number(key_hits)},
                }
            },
        ]
        if old is not None:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(old.key, f"vstats#{old.version_id}"),
                        "UpdateExpression": "SET is_best = :f ADD uses :used",
                        "ConditionExpression": "is_best = :t",
                        "ExpressionAttributeValues": {
                            ":f": {"BOOL": False},
                            ":t": {"BOOL": True},
                            ":used": number(max(0, key_hits - old.hits_at_best)),
                        },
                    }
                }
            )
        return conditional_transaction(self.client, items)

    def set_status(self, key: str, version_id: str, status: VersionStatus, *, expected: VersionStatus) -> bool:
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(key, f"vstats#{version_id}"),
                UpdateExpression="SET #status = :new",
                ConditionExpression="#status = :expected",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":new": string(status.value), ":expected": string(expected.value)},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def mark_regeneration(self, key: str, version_id: str, now: float) -> bool:
        """True for exactly one caller: the one that asks for this version's automatic regeneration."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(key, f"vstats#{version_id}"),
                UpdateExpression="SET regen_requested_at = :now",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(regen_requested_at)",
                ExpressionAttributeValues={":now": whole(now)},
            )
        except ClientError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def clear_regeneration(self, key: str, version_id: str) -> None:
        """Undo ``mark_regeneration`` when the regeneration could not be enqueued, so a later vote tries again."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(key, f"vstats#{version_id}"),
            UpdateExpression="REMOVE regen_requested_at",
        )

    # -- votes -----------------------------------------------------------------------------------------------------

    def get_vote(self, key: str, version_id: str, sub: str) -> tuple[VoteValue, str | None] | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(key, f"vote#{version_id}#{sub}"), ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        vote: VoteValue = "up" if item["vote"]["S"] == "up" else "down"
        return vote, item["comment"]["S"] if "comment" in item else None

    def put_vote(
        self,
        version: Version,
        sub: str,
        *,
        old: VoteValue | None,
        new: VoteValue,
        delta: tuple[int, int],
        comment: str | None,
        reason: VoteReason | None = None,
        now: float,
    ) -> bool:
        """Record a learner's vote and move the counts by ``delta`` atomically, if their vote is still ``old``.

        False when another request of the same learner changed the vote in between: read it again and retry.
        """
        vote_item: dict[str, Any] = {
            **self._key(version.key, f"vote#{version.version_id}#{sub}"),
            "vote": string(new),
            "voted_at": whole(now),
            "expires_at": whole(version.expires_at),
            "learner": string(sub),  # the table's learner index: a learner's votes, listed and erased
        }
        if comment:
            vote_item["comment"] = string(comment)  # for people to read; never sent to the model
        if reason:
            vote_item["reason"] = string(reason)
        if old is None:
            guard: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            guard = {"ConditionExpression": "vote = :old", "ExpressionAttributeValues": {":old": string(old)}}
        items: list[Any] = [{"Put": {"TableName": self.table, "Item": vote_item, **guard}}]
        up, down = delta
        if up or down:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(version.key, f"vstats#{version.version_id}"),
                        "UpdateExpression": "ADD up :up, down :down",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":up": number(up), ":down": number(down)},
                    }
                }
            )
        return conditional_transaction(self.client, items)

    def down_vote_reasons(self, key: str, version_id: str) -> dict[str, int]:
        """How many down votes picked each reason (the closed set), for the server's summary to the model: a Query
        of the version's votes, at most 500 read, projecting the reason only (no learner's text is read)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "FilterExpression": "vote = :down AND attribute_exists(#reason)",
            "ProjectionExpression": "#reason",
            "ExpressionAttributeNames": {"#reason": "reason"},
            "ExpressionAttributeValues": {
                ":pk": string(key),
                ":prefix": string(f"vote#{version_id}#"),
                ":down": string("down"),
            },
            "Limit": 500,
        }
        counts: dict[str, int] = {}
        for item in self.client.query(**request).get("Items", []):
            name = item["reason"]["S"]
            counts[name] = counts.get(name, 0) + 1
        return counts


def _version(data: dict[str, Any]) -> Version:
    return Version(
        version_id=str(data["sk"]).removeprefix("vstats#"),
        key=str(data["pk"]),
        kind=str(data.get("kind", "")),
        status=VersionStatus(data.get("status", VersionStatus.ACTIVE.value)),
        created_at=float(data.get("created_at", 0)),
        expires_at=float(data.get("expires_at", 0)),
        request=dict(data.get("request") or {}),
        owner=data.get("owner"),
        up=int(data.get("up", 0)),
        down=int(data.get("down", 0)),
        is_best=bool(data.get("is_best", False)),
        usage=int(data.get("uses", 0)),
        hits_at_best=int(data.get("hits_at_best", 0)),
        regenerate_of=data.get("regenerate_of"),
        regen_requested_at=data.get("regen_requested_at"),
        figures={k: v for k, v in dict(data.get("figures") or {}).items() if k in _FIGURES},
    )
