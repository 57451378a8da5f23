"""A learner's data: listed page by page (``GET /v1/me/content``), and erased on request (``DELETE /v1/me``, or an
admin's ``DELETE /v1/learners/{learner}``).

Erasure answers at once and runs on the interactive lane in two passes: the first deletes everything of the
learner's the tables hold; the second, after any generation that was in flight has ended (the lease's length),
deletes again what the first found and anything that appeared since (a generation stored after the first pass).
A personal job whose record is gone is dropped by the worker, so a late delivery does not bring data back.
Each pass is idempotent: a request sent twice erases once more, which finds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pregen.domain.cursors import REFUSED, seal, unseal
from pregen.domain.errors import Forbidden, InvalidRequest, NotFound
from pregen.domain.models import Lane
from pregen.messages import EraseMessage
from pregen.observability import logger
from pregen.services.erasures import tombstone_expiry

if TYPE_CHECKING:
    from pregen.domain.models import Caller
    from pregen.domain.records import ErasureStatus
    from pregen.ports import BatchStore, Clock, Erasures, JobQueue, LearnerData

# Page sizes of the listing: the default and the most one request may ask for.
DEFAULT_PAGE = 50
MAX_PAGE = 100
_LOOK_AHEAD = 10  # items a full page reads past its end to learn whether anything follows


@dataclass
class LearnerDataDeps:
    data: LearnerData
    queue: JobQueue
    clock: Clock
    second_pass_delay_s: int  # after the longest generation that may be in flight (the worker's lease)
    erasures: Erasures | None = None  # the tombstones (pregen.services.erasures)
    batches: BatchStore | None = None  # open Message Batches, whose entries of the learner a pass drops


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


@dataclass(frozen=True)
class ErasureAccepted:
    learner: str
    requested_at: float
    done_within_s: int


LISTING = "me/content"  # the listing's name in its cursors: another listing's cursor is refused here


def _decode(cursor: str, sub: str, key: bytes) -> tuple[int, int, dict[str, Any] | None]:
    """A cursor this listing signed for this learner, or a 400 before anything reaches the tables: a cursor of
    another learner or listing, edited or garbled, fails its signature. The shape and owner checks after it
    hold for a key that ever leaked."""
    data = unseal(cursor, key=key, caller=sub, listing=LISTING)
    if not isinstance(data, dict):
        raise InvalidRequest(REFUSED)
    phase, part, start = data.get("p"), data.get("t"), data.get("k")
    if not (
        isinstance(phase, int)
        and isinstance(part, int)
        and 0 <= phase < 10  # the adapter's phases; one past them is an empty last page
        and 0 <= part < 1000
        and (start is None or (isinstance(start, dict) and _belongs_to(start, sub)))
    ):
        raise InvalidRequest(REFUSED)
    return phase, part, start


def _belongs_to(start: dict[str, Any], sub: str) -> bool:
    """An index page starts at one of the learner's own items; an exam page in one of their inventories."""
    learner = start.get("learner", {}).get("S") if isinstance(start.get("learner"), dict) else None
    pk = start.get("pk", {}).get("S") if isinstance(start.get("pk"), dict) else None
    return learner == sub or (
        learner is None
        and isinstance(pk, str)
        and (pk.startswith(f"inv#{sub}#") or pk in {f"courses#{sub}", f"attempts#{sub}"})
    )


def list_learner_data(
    caller: Caller, cursor: str | None, limit: int, deps: LearnerDataDeps, *, cursor_key: bytes
) -> Page:
    """One page of the caller's personal content (by version), votes, jobs, exams, courses and graded attempts,
    and the next cursor (signed for this caller and this listing).

    A page holds ``limit`` items unless the listing ends in it: the page reads on into the next phase (content,
    jobs, exams, courses, attempts) while it is short, and ``next_cursor`` is null exactly when nothing follows.
    Items past their expiry (TTL deletes them up to 48 h late) are not shown."""
    position: tuple[int, int, dict[str, Any] | None] | None = (
        _decode(cursor, caller.sub, cursor_key) if cursor else (0, 0, None)
    )
    now = deps.clock.now()
    shown: list[dict[str, Any]] = []
    while position is not None:
        room = limit - len(shown)
        # A full page looks ahead (without taking what it finds) so the cursor is null exactly at the end: a
        # query that stopped at its limit names a next key even when nothing is left.
        items, following = deps.data.page(caller.sub, *position, room or _LOOK_AHEAD)
        visible = [item for item in items if item.get("expires_at", now + 1) > now]
        if not room and visible:
            break  # the next page starts where the look-ahead did
        shown += visible
        position = following
    next_cursor = None
    if position is not None:
        phase, part, start = position
        next_cursor = seal({"p": phase, "t": part, "k": start}, key=cursor_key, caller=caller.sub, listing=LISTING)
    return Page(items=shown, next_cursor=next_cursor)


def request_erasure(
    caller: Caller, learner: str, deps: LearnerDataDeps, *, correlation_id: str | None = None
) -> ErasureAccepted:
    """Queue the erasure of ``learner``'s data: the learner themselves, or an admin for anyone."""
    if learner != caller.sub and not caller.is_admin:
        raise Forbidden("only an admin may erase another learner's data")
    now = deps.clock.now()
    if deps.erasures is not None:  # before the pass is queued: from now on late writes of theirs are refused
        deps.erasures.begin(learner, now, by_admin=learner != caller.sub, expires_at=tombstone_expiry(now))
    message = EraseMessage(learner=learner, requested_at=now, requested_by=caller.sub, correlation_id=correlation_id)
    deps.queue.send(Lane.INTERACTIVE, message.wire())
    logger.info("erasure requested", learner=learner, requested_by=caller.sub)
    return ErasureAccepted(learner=learner, requested_at=now, done_within_s=deps.second_pass_delay_s + 120)


def erasure_status(caller: Caller, learner: str, deps: LearnerDataDeps) -> ErasureStatus:
    """The learner's erasure as its tombstone says: the learner themselves, or an admin for anyone. 404 when none
    was asked for (or its tombstone has expired)."""
    if learner != caller.sub and not caller.is_admin:
        raise Forbidden("only an admin may see another learner's erasure")
    found = deps.erasures.get(learner) if deps.erasures is not None else None
    if found is None:
        raise NotFound("no erasure of this learner's data is on record")
    return found


def erase_pass(message: EraseMessage, deps: LearnerDataDeps) -> str:
    """One pass of an erasure (the worker runs it); the first queues the second."""
    now = deps.clock.now()
    erased = deps.data.erase(message.learner, now, job_ids=message.job_ids, keys=message.keys)
    dropped = _drop_batch_entries(message.learner, deps)
    logger.info(
        "learner data erased",
        learner=message.learner,
        erasure_pass=message.pass_number,
        deleted=erased.items,
        batch_entries_dropped=dropped,
        requested_by=message.requested_by,
    )
    if deps.erasures is not None:
        deps.erasures.pass_done(
            message.learner,
            message.pass_number,
            requested_at=message.requested_at,
            final=message.pass_number >= 2,
            now=deps.clock.now(),
            expires_at=tombstone_expiry(message.requested_at),
        )
    if message.pass_number == 1:
        second = message.model_copy(update={"pass_number": 2, "job_ids": erased.job_ids, "keys": erased.keys})
        deps.queue.send(Lane.INTERACTIVE, second.wire(), delay_seconds=deps.second_pass_delay_s)
        return "erased_first_pass"
    return "erased"


def _drop_batch_entries(learner: str, deps: LearnerDataDeps) -> int:
    """The learner's entries of every open Message Batch (their id and request text), dropped: the collector stores
    no result for them. A collected batch keeps no entries (``close_batch``), so open batches are all there is."""
    if deps.batches is None:
        return 0
    dropped = 0
    for batch_id, _ in deps.batches.open_batches():
        theirs = [
            custom_id
            for custom_id, entry in deps.batches.get_entries(batch_id).items()
            if learner in (entry.get("owner"), entry.get("requested_by"))
        ]
        if theirs:
            deps.batches.drop_entries(batch_id, theirs)
            dropped += len(theirs)
    return dropped
