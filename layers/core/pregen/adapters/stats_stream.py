"""The content table's stream, read: a batch of Lambda's DynamoDB stream records (the wire shape, ``NewImage`` and
``OldImage`` in attribute values) as the ``stats`` changes the usage aggregator counts (``pregen.services.usage``)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import deserialize
from pregen.domain.records import StatsBatch, StatsChange

if TYPE_CHECKING:
    from collections.abc import Sequence

_CHANGES = {"INSERT", "MODIFY"}  # a REMOVE (expiry) is no hit


def read_stats_stream(records: Sequence[dict[str, Any]]) -> StatsBatch:
    """Every inserted or modified ``stats`` item of the batch, its hits before and after."""
    changes: list[StatsChange] = []
    for record in records:
        change = record.get("dynamodb") or {}
        keys = deserialize(change.get("Keys") or {})
        if keys.get("sk") != "stats" or record.get("eventName") not in _CHANGES:
            continue
        new = deserialize(change.get("NewImage") or {})
        old = deserialize(change.get("OldImage") or {})
        changes.append(
            StatsChange(
                key=str(keys.get("pk", "")),
                kind=new.get("kind") or None,
                hits_before=int(old.get("hits", 0)),
                hits_after=int(new.get("hits", 0)),
                last_access=float(new.get("last_access", 0)),
                cost_usd=float(new.get("cost_usd", 0)),
            )
        )
    return StatsBatch(batch_id=batch_id(records), changes=changes)


def batch_id(records: Sequence[dict[str, Any]]) -> str:
    """The same batch delivered again has the same id (stream ``eventID``s are unique per change)."""
    digest = hashlib.sha256("|".join(str(r.get("eventID", "")) for r in records).encode()).hexdigest()
    return digest[:32]
