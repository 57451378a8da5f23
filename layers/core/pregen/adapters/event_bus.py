"""The tables' stream records to events on the stack's EventBridge bus (``pregen.domain.notifications`` says which
change means which event)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pregen.adapters.ddb import deserialize
from pregen.domain.notifications import SOURCE, Notification, notification_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

PUT_EVENTS_MAX = 10  # entries per PutEvents request


def _image(record: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    image = record.get("dynamodb", {}).get(name)
    if not image:
        return None
    # Binary attributes (compressed bodies) are never read: only the small fields the events carry.
    return deserialize({k: v for k, v in image.items() if "B" not in v})


def notifications_of(records: Iterable[Mapping[str, Any]]) -> list[tuple[str, Notification]]:
    """(the record's sequence number, its event) for each record that means one, in stream order."""
    found = []
    for record in records:
        notification = notification_for(_image(record, "OldImage"), _image(record, "NewImage"))
        if notification is not None:
            found.append((str(record.get("dynamodb", {}).get("SequenceNumber", "")), notification))
    return found


def put_on_bus(found: list[tuple[str, Notification]], bus: str, put_events: Callable[..., Any]) -> list[str]:
    """Put each event on ``bus``, ten to a request; the sequence numbers of those the bus refused (the stream
    delivers their records again: at least once, which ``detail.event_id`` lets a consumer see)."""
    failed: list[str] = []
    for start in range(0, len(found), PUT_EVENTS_MAX):
        chunk = found[start : start + PUT_EVENTS_MAX]
        entries = [
            {"Source": SOURCE, "DetailType": n.detail_type, "Detail": json.dumps(n.detail), "EventBusName": bus}
            for _, n in chunk
        ]
        answer = put_events(Entries=entries)
        if answer.get("FailedEntryCount", 0):
            failed += [seq for (seq, _), result in zip(chunk, answer["Entries"], strict=True) if "ErrorCode" in result]
    return failed
