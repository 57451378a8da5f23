"""Values that cross the ports (``pregen.ports``): plain frozen dataclasses, cheap to import."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pregen.domain.library import Version
    from pregen.domain.limits import Consumed
    from pregen.domain.models import Generation, Job
    from pregen.domain.near import IndexEntry


@dataclass(frozen=True)
class StoredContent:
    key: str
    kind: str
    body: dict[str, Any]
    meta: dict[str, Any]
    owner: str | None
    created_at: float
    expires_at: float


@dataclass(frozen=True)
class FinishedGeneration:
    """Everything a generation writes once its model call has answered (``GenerationWrites.finish``): its content,
    the job's end, the lease's end and its counters."""

    key: str
    job_id: str
    worker_id: str  # the lease's holder
    finished: float
    day: str  # the day it finished (its counters' and the learner's cost item's)
    meta: dict[str, Any]  # the job's figures
    attempt: tuple[dict[str, Any], int] | None  # the job's history entry and its model calls
    content: StoredContent | None  # the content to serve (None: written already, as a regeneration's is)
    version: Version | None  # its library version (None: the library is off, or it was written already)
    near: tuple[str, IndexEntry, float] | None  # a published shared item's bucket, index entry, its expiry
    day_counts: dict[str, dict[str, int | float]]  # day -> counts: its day's and the expiry day's
    learner: str | None  # whose cost item it adds to (the owner, or the learner who asked)
    learner_counts: dict[str, int | float]
    started_at: float | None  # when the job began (None: not known): an erasure since refuses the learner's writes


@dataclass(frozen=True)
class FinishWritten:
    """What ``GenerationWrites.finish`` did besides writing everything: ``refused``, the learner's data was erased
    since the job began (their cost item, and personal content, not written); ``conflicts``, transactions
    cancelled by another's write to one of its items and tried again; ``counters_apart``, the counters were
    written as separate updates after conflicts outlasted the retries."""

    refused: bool = False
    conflicts: int = 0
    counters_apart: bool = False


@dataclass(frozen=True)
class InflightClaim:
    """The result of trying to mark a key as in flight: we won it, or someone's job already holds it."""

    won: bool
    job_id: str
    lane: str
    state: str = "queued"  # the marker's: queued, or generating once a worker holds the lease
    claimed_at: float | None = None  # when the job was claimed (None: a marker written before this was recorded)
    expires_at: float | None = None  # when the marker stops holding the key (None: not read with it)


@dataclass(frozen=True)
class KeyClaim:
    """The result of claiming a key and recording its job in one conditional write (``KeyClaims.claim``): won (the
    marker and the job are written), or lost with nothing written -- to live content (``cached``), or to another
    job's marker (``held``; None when the write did not learn whose it is, e.g. a transaction conflict)."""

    won: bool
    held: InflightClaim | None = None
    cached: bool = False
    alias: str | None = None  # lost to the wording's live alias (``alias=True``): the content key it points at
    refused: Consumed | None = None  # lost to the charge (``charge``): the window with no room, counts as they stood


@dataclass(frozen=True)
class BatchClaim:
    """The result of claiming a job for a Message Batch (``JobStore.claim_for_batch``): won (this delivery alone may
    submit it), or lost, with what the job record said (``job`` None when it is gone): done, already in a batch
    (``batch_id``), or claimed by another delivery whose claim runs until ``held_until``."""

    won: bool
    job: Job | None = None
    batch_id: str | None = None
    held_until: float | None = None


@dataclass(frozen=True)
class QueuedMessage:
    """A message looked at where it sits (a dead-letter queue's), without taking it."""

    message_id: str
    body: dict[str, Any]  # {} when the body is not a JSON object
    receives: int  # ApproximateReceiveCount
    sent_at: int  # epoch seconds


@dataclass(frozen=True)
class BatchOutcome:
    """One request's result from a Message Batch: content, or the reason it must fall back to a direct call."""

    custom_id: str
    generation: Generation | None = None
    error: str | None = None
    spent_usd: float = 0.0


@dataclass
class Erased:
    """What one erasure pass of a learner's data deleted, by table, and what the next pass must delete again."""

    items: dict[str, int] = field(default_factory=dict)
    job_ids: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def count(self, table: str, n: int) -> None:
        self.items[table] = self.items.get(table, 0) + n


@dataclass(frozen=True)
class ErasureStatus:
    """A learner's erasure as its tombstone records it: when it was asked for, the passes done, erasing or done."""

    requested_at: float
    passes_done: int
    status: str  # "erasing" until the last pass, then "done"
    done_at: float | None
    expires_at: float  # the tombstone's end: writes of the learner's are refused until then


@dataclass(frozen=True)
class StatsChange:
    """One change of a key's ``stats`` item (its hit counter), as the content table's stream reports it."""

    key: str
    kind: str | None  # the item's own kind; None on an item written without one
    hits_before: int  # 0 for a new item
    hits_after: int
    last_access: float  # epoch seconds of the latest hit counted
    cost_usd: float  # what generating the key cost


@dataclass(frozen=True)
class StatsBatch:
    """A delivered batch of stream records: its id (the same on a redelivery) and its ``stats`` changes."""

    batch_id: str
    changes: list[StatsChange]
