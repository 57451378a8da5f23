"""The DynamoDB toolkit every adapter builds on, written once: the client, attribute encoding, conditional writes,
transaction cancellation reasons, exactly-once markers, retrying a conflicted transaction, and the content item.

Every item carries ``expires_at`` (epoch seconds), its table's TTL attribute. DynamoDB deletes lazily (up to ~48 h
late), so every read checks ``expires_at`` in code as well.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from pregen.domain.codec import compress, decompress
from pregen.domain.records import BatchClaim, StoredContent

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_ddb(value: Any) -> Any:
    """Floats become Decimals (DynamoDB numbers) on the way in."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_ddb(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_to_ddb(v) for v in value]
    return value


def _from_ddb(value: Any) -> Any:
    """Decimals come back as int or float, so the domain never sees Decimal."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_ddb(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_ddb(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in _to_ddb(item).items()}


def deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _from_ddb(_deserializer.deserialize(v)) for k, v in item.items()}


def whole(value: float) -> dict[str, str]:
    """A number attribute holding a whole number: epoch seconds, counts, versions (fractions are dropped)."""
    return {"N": str(int(value))}


def number(value: float) -> dict[str, str]:
    """A number attribute holding the value as it is (floats through Decimal, so 0.1 stays 0.1)."""
    return {"N": str(value) if isinstance(value, int) else str(Decimal(str(value)))}


def string(value: str) -> dict[str, str]:
    return {"S": value}


def condition_failed(exc: ClientError) -> bool:
    """A single conditional write whose condition did not hold."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def conditional(write: Callable[..., Any], **request: Any) -> bool:
    """Run a conditional write; False when its condition did not hold (the expected "someone else" outcome)."""
    try:
        write(**request)
    except ClientError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def cancellation_codes(exc: ClientError) -> list[str] | None:
    """The per-item reasons of a cancelled transaction (``"None"`` for an item that was fine), in the order of its
    items; None when the error is something else."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons: list[Any] = exc.response.get("CancellationReasons") or []  # type: ignore[assignment]
    return [str(r.get("Code") or "None") for r in reasons]


def cancelled_on_condition(exc: ClientError) -> bool:
    """A transaction that failed only because one of its conditions did not hold."""
    codes = set(cancellation_codes(exc) or [])
    return bool(codes) and codes <= {"ConditionalCheckFailed", "None"}


def conditional_transaction(client: DynamoDBClient, items: list[Any]) -> bool:
    """Run a transaction; False when it was cancelled only because one of its own conditions did not hold."""
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if cancelled_on_condition(exc):
            return False
        raise
    return True


@dataclass(frozen=True)
class ConflictRetry:
    """Retrying a transaction that DynamoDB cancelled with ``TransactionConflict`` (another transaction touched one
    of its items at that moment; botocore does not retry it): up to ``retries`` more tries, each after a random
    wait of ``low_s``-``high_s`` seconds times the try's number, so colliding writers spread apart."""

    retries: int
    low_s: float
    high_s: float

    def wait(self, retry: int) -> bool:
        """Wait before retry number ``retry`` (1 for the first); False, without waiting, when they are spent."""
        if retry > self.retries:
            return False
        time.sleep(random.uniform(self.low_s, self.high_s) * retry)
        return True


def lease_assembly(
    client: DynamoDBClient, table: str, key: dict[str, Any], *, worker_id: str, now: float, seconds: int, done: str
) -> bool:
    """Exactly one worker assembles a thing made of parts (an exam's sections, a course's parts): the one whose part
    completed the count (``<done> >= <done's total>``, e.g. ``sections_done >= sections_total``) takes the lease
    while the item is ``generating``; a crashed assembler's lease runs out and the next delivery takes it over."""
    total = done.replace("_done", "_total")
    return conditional(
        client.update_item,
        TableName=table,
        Key=key,
        UpdateExpression="SET assembler = :w, assemble_until = :until",
        ConditionExpression=(
            f"#status = :generating AND {done} >= {total} "
            "AND (attribute_not_exists(assembler) OR assemble_until < :now OR assembler = :w)"
        ),
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":w": string(worker_id),
            ":until": whole(now + seconds),
            ":now": whole(now),
            ":generating": string("generating"),
        },
    )


@dataclass(frozen=True)
class BatchClaimShape:
    """Where a thing sent in Message Batches (a job, an exam section, a course judgement) keeps its claim: the
    owner and until attributes, what the claim's write sets besides, and what else rules a claim out."""

    owner: str = "claim"
    until: str = "claim_until"
    also_set: str = "expires_at = :until"  # may use :owner, :until and :now
    also_condition: str = ""  # ANDed with "no batch_id, no live claim"
    names: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[str, Any], ...] = ()


def claim_for_batch(
    client: DynamoDBClient,
    table: str,
    key: dict[str, Any],
    shape: BatchClaimShape,
    *,
    owner: str,
    now: float,
    until: float,
) -> dict[str, Any] | None:
    """Claim a thing for a Message Batch in one UpdateItem: the owner until ``until`` when it has no ``batch_id``
    and no live claim (and ``shape.also_condition``); None when won, else the old item (``ALL_OLD``, ``{}`` when
    there is none) to say why not. Only the winner may submit it: the Batches API has no idempotency key."""
    condition = f"attribute_not_exists(batch_id) AND (attribute_not_exists({shape.until}) OR {shape.until} < :now)"
    if shape.also_condition:
        condition = f"{shape.also_condition} AND {condition}"
    request: dict[str, Any] = {
        "TableName": table,
        "Key": key,
        "UpdateExpression": f"SET {shape.owner} = :owner, {shape.until} = :until, {shape.also_set}",
        "ConditionExpression": condition,
        "ExpressionAttributeValues": serialize({":owner": owner, ":until": until, ":now": now, **dict(shape.values)}),
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if shape.names:
        request["ExpressionAttributeNames"] = dict(shape.names)
    try:
        client.update_item(**request)
    except ClientError as exc:
        if not condition_failed(exc):
            raise
        return exc.response.get("Item") or {}  # type: ignore[return-value]
    return None


def lost_batch_claim(old: dict[str, Any], *, until: str = "claim_until") -> BatchClaim:
    """A lost claim as its old item (wire form) tells it: already in a batch, or held by another until when."""
    data = deserialize(old)
    held = data.get(until)
    return BatchClaim(won=False, batch_id=data.get("batch_id"), held_until=float(held) if held is not None else None)


def release_batch_claim(
    client: DynamoDBClient, table: str, key: dict[str, Any], shape: BatchClaimShape, owner: str
) -> None:
    """Give a claim back (its batch was not submitted), unless another owner holds it or the thing went in a batch."""
    conditional(
        client.update_item,
        TableName=table,
        Key=key,
        UpdateExpression=f"REMOVE {shape.owner}, {shape.until}",
        ConditionExpression=f"{shape.owner} = :owner AND attribute_not_exists(batch_id)",
        ExpressionAttributeValues={":owner": string(owner)},
    )


def applied_marker(table: str, pk: str, expires_at: float) -> dict[str, Any]:
    """The first item of an exactly-once transaction: a marker that must not exist yet. A batch delivered again
    finds it, and its transaction is cancelled with ``ConditionalCheckFailed`` on item 0."""
    item = {"pk": string(pk), "sk": string("applied"), "expires_at": whole(expires_at)}
    return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}


def content_item(content: StoredContent, sk: str = "content") -> dict[str, Any]:
    """The item holding a content body (compressed) and its figures; also the shape of a library version."""
    item: dict[str, Any] = {
        "pk": string(content.key),
        "sk": string(sk),
        "kind": string(content.kind),
        "body": {"B": compress(content.body)},
        "meta": {"M": serialize(content.meta)},
        "created_at": whole(content.created_at),
        "expires_at": whole(content.expires_at),
    }
    if content.owner:
        item["owner"] = string(content.owner)
        item["learner"] = string(content.owner)  # the table's learner index: a learner's data, listed and erased
    return item


def content_from_item(key: str, item: dict[str, Any]) -> StoredContent:
    return StoredContent(
        key=key,
        kind=item["kind"]["S"],
        body=decompress(item["body"]["B"]),
        meta=deserialize(dict(item["meta"]["M"])) if "meta" in item else {},
        owner=item["owner"]["S"] if "owner" in item else None,
        created_at=float(item["created_at"]["N"]),
        expires_at=float(item["expires_at"]["N"]),
    )


def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb")
