"""A small in-memory cache of hot shared content in front of a content store (the content table in Lambda), for
warm get-content environments.

A popular lesson read by millions sits on one partition key, and one key's item can be read at most 3,000 read
units a second (docs/CAPACITY.md). A warm execution environment that answered a key a moment ago answers it again
from memory:

- only *shared* content (``owner`` is None): personal content is never kept, so it is never served to anyone but
  the one read that fetched it;
- only eventually consistent reads: a consistent read (the enqueue path, the worker) always goes to DynamoDB;
- only hits: a miss is never remembered, so content stored a moment ago is seen at once;
- bounded: at most ``max_items`` entries, least recently used out first, and each lives ``ttl_seconds``
  (monotonic time) -- the staleness allowed: a vote that changes the served version, or a regeneration, is seen
  by every environment within ``ttl_seconds``. Each entry carries the version it was read at (``meta.version_id``,
  the ETag), so an answer and its ETag always belong together;
- content past its expiry is never served from memory either (checked against the request's ``now``).

Lambda runs one event at a time per environment, but one event may read several keys side by side (a
pre-generation batch, ``pregen.parallel.each``): the entries are kept under a lock, never held across a request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.models import Lane
    from pregen.domain.records import InflightClaim, StoredContent
    from pregen.ports import ContentStore


@dataclass(frozen=True)
class _Entry:
    content: StoredContent  # with the served version it was read at (meta.version_id: the answer's ETag)
    until: float  # monotonic seconds


class HotContentStore:
    """Any ``ContentStore``, with recent reads of shared content answered from memory for ``ttl_seconds``; every
    other call goes to the store it wraps."""

    def __init__(
        self, inner: ContentStore, *, ttl_seconds: float, max_items: int, ticker: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self.ttl_seconds, self.max_items, self._ticker = ttl_seconds, max_items, ticker
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.from_memory = 0  # reads answered without DynamoDB (the benchmark reads it)

    def get_content(self, key: str, now: float, *, consistent: bool = False) -> StoredContent | None:
        if consistent:
            return self.inner.get_content(key, now, consistent=True)
        tick = self._ticker()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if entry.until > tick and entry.content.expires_at > now:
                    self._entries.move_to_end(key)
                    self.from_memory += 1
                    return entry.content
                del self._entries[key]
        stored = self.inner.get_content(key, now)
        if stored is not None and stored.owner is None:
            with self._lock:
                self._entries[key] = _Entry(stored, tick + self.ttl_seconds)
                if len(self._entries) > self.max_items:
                    self._entries.popitem(last=False)
        return stored

    # -- the rest of the port: the wrapped store's, unchanged --

    def put_content(self, content: StoredContent) -> None:
        self.inner.put_content(content)

    def get_inflight(self, key: str, now: float) -> InflightClaim | None:
        return self.inner.get_inflight(key, now)

    def claim_inflight(self, key: str, job_id: str, lane: Lane, now: float, hold_seconds: int) -> InflightClaim:
        return self.inner.claim_inflight(key, job_id, lane, now, hold_seconds)

    def promote_inflight(self, key: str, job_id: str, lane: Lane) -> bool:
        return self.inner.promote_inflight(key, job_id, lane)

    def take_over_inflight(
        self, key: str, stale_job_id: str, job_id: str, lane: Lane, *, now: float, hold_seconds: int
    ) -> bool:
        return self.inner.take_over_inflight(key, stale_job_id, job_id, lane, now=now, hold_seconds=hold_seconds)

    def hold_inflight(self, key: str, job_id: str, until: float) -> bool:
        return self.inner.hold_inflight(key, job_id, until)

    def release_inflight(self, key: str, job_id: str) -> None:
        self.inner.release_inflight(key, job_id)

    def acquire_lease(
        self, key: str, job_id: str, worker_id: str, now: float, lease_seconds: int, *, unless_cached: bool = False
    ) -> bool:
        return self.inner.acquire_lease(key, job_id, worker_id, now, lease_seconds, unless_cached=unless_cached)

    def end_lease(self, key: str, worker_id: str) -> None:
        self.inner.end_lease(key, worker_id)

    def requeue_lease(self, key: str, worker_id: str) -> None:
        self.inner.requeue_lease(key, worker_id)

    def version_of(self, key: str) -> str | None:
        """The version a remembered key was read at (None: not remembered)."""
        entry = self._entries.get(key)
        return entry.content.meta.get("version_id") if entry else None

    def __len__(self) -> int:
        return len(self._entries)
