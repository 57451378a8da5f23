"""Feeds DynamoDB stream records to a function the way Lambda's event source mapping does: in order per shard,
in batches, the same batch again after a failure, and only the records the event's filter patterns match."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from aws_emulator.runtime import Invocable

logger = logging.getLogger(__name__)


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style pattern match, the subset event filtering uses here: nested keys and lists of values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and _matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        return value in pattern
    return bool(pattern == value)


def matches_any(filters: tuple[str, ...], record: dict[str, Any]) -> bool:
    return not filters or any(_matches(json.loads(f), record) for f in filters)


class StreamPoller:
    """One thread reading every shard of a table's stream from the start (TRIM_HORIZON), or, with a
    ``checkpoint`` file, from after the last record delivered in an earlier run (the event source mapping keeps
    its position; DynamoDB Local keeps the table and its stream between runs of the stack)."""

    def __init__(
        self,
        streams: Any,
        *,
        stream_arn: str,
        function: Invocable,
        batch_size: int,
        filters: tuple[str, ...] = (),
        interval_s: float = 0.5,
        checkpoint: Path | None = None,
    ) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.function = function
        self.batch_size = batch_size
        self.filters = filters
        self.interval_s = interval_s
        self.iterators: dict[str, str] = {}
        self.checkpoint = checkpoint
        self.positions: dict[str, str] = self._load_positions()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"stream-{function.spec.logical_id}", daemon=True)
        self.delivered = 0

    def _load_positions(self) -> dict[str, str]:
        if self.checkpoint is None or not self.checkpoint.exists():
            return {}
        saved = json.loads(self.checkpoint.read_text() or "{}").get(self.stream_arn, {})
        return {str(k): str(v) for k, v in saved.items()}

    def _save_position(self, shard_id: str, sequence_number: str) -> None:
        self.positions[shard_id] = sequence_number
        if self.checkpoint is None:
            return
        everything = json.loads(self.checkpoint.read_text() or "{}") if self.checkpoint.exists() else {}
        everything[self.stream_arn] = self.positions
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.checkpoint.with_suffix(f".{self.function.spec.logical_id}.tmp")
        temporary.write_text(json.dumps(everything))
        temporary.replace(self.checkpoint)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once()
            except Exception:
                logger.exception("stream poller error (stream %s)", self.stream_arn)
            self.stopping.wait(self.interval_s)

    def poll_once(self) -> int:
        """Read what is new on every shard and invoke the function with it; returns the records delivered."""
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        delivered = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                position: dict[str, str] = {"ShardIteratorType": "TRIM_HORIZON"}
                if shard_id in self.positions:
                    after = self.positions[shard_id]
                    position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
                self.iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, **position
                )["ShardIterator"]
            try:
                response = self.streams.get_records(ShardIterator=self.iterators[shard_id], Limit=self.batch_size)
            except (
                self.streams.exceptions.TrimmedDataAccessException,
                self.streams.exceptions.ExpiredIteratorException,
            ):
                # DynamoDB Local: an iterator taken on an empty shard goes stale once records arrive, and every
                # iterator expires after 15 minutes. A new one starts after the last record delivered.
                del self.iterators[shard_id]
                continue
            every = response.get("Records", [])
            records = [{**r, "eventSourceARN": self.stream_arn} for r in every if matches_any(self.filters, r)]
            if records:
                # On a failure the iterator is not advanced: the same batch is delivered again, as Lambda does.
                self.function.invoke({"Records": json.loads(json.dumps(records, default=str))})
                delivered += len(records)
            if every:
                self._save_position(shard_id, str(every[-1]["dynamodb"]["SequenceNumber"]))
            if response.get("NextShardIterator"):
                self.iterators[shard_id] = response["NextShardIterator"]
        self.delivered += delivered
        return delivered
