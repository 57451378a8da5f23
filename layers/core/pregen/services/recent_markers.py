"""The in-flight markers an execution environment saw a moment ago: a later miss of the same shared key in the same
environment joins that job without the claim's transaction (``pregen.services.content``; docs/ARCHITECTURE.md, Miss).

In a stampede each environment answers many misses of one key one after another; every one of them would otherwise
send the claim's ``TransactWriteItems`` only to have it cancelled on the same marker. What is remembered and when it
is believed:

- learned only from a marker that answers a join by itself (fresh, ``queued`` or ``generating``; the cancelled
  claim's old item) or from a claim this environment won and whose message it sent;
- only *shared* keys: a personal key is missed by one learner, never stampeded, and an erased learner's jobs must
  not be answered from memory;
- for ``seconds`` after it was learned (``JOIN_MEMO_SECONDS``, default 2), never past the marker's own expiry;
  the miss still reads the content first, so a key that became ready is served, never answered with a 202;
- bounded: at most ``max_items`` keys, least recently used out first; per process, never shared.

What the window allows: a job that fails for good (its marker released) or finishes through a near-duplicate's
alias is still joined by this environment for at most ``seconds``: the learner's 202 names a job that then says
``failed`` (the app retries) or ``done`` (its content is served through the alias), unless this environment read
the job as finished meanwhile (``job_status``: the app polling it), which forgets the key; the state answered is
the one learned (``queued`` where a worker may have started it since).

Lambda runs one event at a time per environment, but a pre-generation batch claims its keys side by side
(``pregen.parallel.each``): the entries are kept under a lock, never held across a request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pregen.domain.records import InflightClaim


@dataclass(frozen=True)
class _Seen:
    marker: InflightClaim
    learned_at: float
    until: float  # the earlier of learned_at + seconds and the marker's expiry


class RecentMarkers:
    """Markers of shared keys seen in the last ``seconds`` (by the clock the service reads), at most ``max_items``."""

    def __init__(self, *, seconds: float, max_items: int = 256) -> None:
        self.seconds, self.max_items = seconds, max_items
        self._entries: OrderedDict[str, _Seen] = OrderedDict()
        self._lock = threading.Lock()
        self.recalled = 0  # misses joined from memory (the benchmarks read it)

    def learn(self, key: str, marker: InflightClaim, now: float) -> None:
        until = now + self.seconds
        if marker.expires_at is not None:
            until = min(until, marker.expires_at)
        if until <= now:
            return
        with self._lock:
            self._entries[key] = _Seen(replace(marker, won=False), now, until)
            self._entries.move_to_end(key)
            if len(self._entries) > self.max_items:
                self._entries.popitem(last=False)

    def recall(self, key: str, now: float) -> InflightClaim | None:
        """The marker seen for ``key`` if it was learned less than ``seconds`` ago and has not expired; a clock that
        went back past the learning believes nothing."""
        with self._lock:
            seen = self._entries.get(key)
            if seen is None:
                return None
            if not seen.learned_at <= now < seen.until:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            self.recalled += 1
            return seen.marker

    def forget(self, key: str) -> None:
        """The key's marker released by this environment (a job abandoned): never answered from memory again."""
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
