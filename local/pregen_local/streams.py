"""Feeds DynamoDB stream records to a function the way Lambda's event source mapping does: in order per shard,
in batches, the same batch again after a failure, and only the records the event's filter patterns match."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from pregen.observability import logger

if TYPE_CHECKING:
    from pregen_local.runtime import LocalFunction


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
    """One thread reading every shard of a table's stream from the start (TRIM_HORIZON)."""

    def __init__(
        self,
        streams: Any,
        *,
        stream_arn: str,
        function: LocalFunction,
        batch_size: int,
        filters: tuple[str, ...] = (),
        interval_s: float = 0.5,
    ) -> None:
        self.streams = streams
        self.stream_arn = stream_arn
        self.function = function
        self.batch_size = batch_size
        self.filters = filters
        self.interval_s = interval_s
        self.iterators: dict[str, str] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"stream-{function.spec.logical_id}", daemon=True)
        self.delivered = 0

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
                logger.exception("stream poller error", stream=self.stream_arn)
            self.stopping.wait(self.interval_s)

    def poll_once(self) -> int:
        """Read what is new on every shard and invoke the function with it; returns the records delivered."""
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        delivered = 0
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                self.iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            response = self.streams.get_records(ShardIterator=self.iterators[shard_id], Limit=self.batch_size)
            records = [
                {**r, "eventSourceARN": self.stream_arn}
                for r in response.get("Records", [])
                if matches_any(self.filters, r)
            ]
            if records:
                # On a failure the iterator is not advanced: the same batch is delivered again, as Lambda does.
                self.function.invoke({"Records": json.loads(json.dumps(records, default=str))})
                delivered += len(records)
            if response.get("NextShardIterator"):
                self.iterators[shard_id] = response["NextShardIterator"]
        self.delivered += delivered
        return delivered
