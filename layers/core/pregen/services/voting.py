"""Voting in the shared library: list a key's versions, vote on one (approval and re-ranking follow), and regenerate
one on request or when it is voted down. Publishing a new version is ``pregen.services.publishing``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pregen.domain.errors import Conflict, NotFound, TooManyVotes
from pregen.domain.keys import cache_key
from pregen.domain.library import (
    VOTE_REASONS,
    LibraryRules,
    Version,
    VersionStatus,
    key_of,
    ranked,
    vote_delta,
)
from pregen.domain.models import STORED, Caller, ContentRequest, Priority, Role
from pregen.observability import logger
from pregen.services.publishing import rerank

if TYPE_CHECKING:
    from pregen.domain.library import VoteReason, VoteValue
    from pregen.domain.models import Job, JobRef
    from pregen.domain.records import StoredContent
    from pregen.ports import LibraryStore, RateCounter
    from pregen.services.content import ServeDeps

_VOTE_ATTEMPTS = 5
REASON_CHARS = 1000  # a teacher's or admin's regeneration reason, as quoted to the model
_MINUTE = 60
# The vote window's name: its item is ``limit#<sub>`` / ``votes#<minute>``, beside (never on) the learner's spend
# windows (minute, hour, day), so erasing the learner's ``limit#<sub>`` partition erases it too.
_VOTE_WINDOW = "votes"


@dataclass
class LibraryDeps:
    library: LibraryStore
    serve: ServeDeps  # regeneration is an enqueue-or-join of the key, exactly like a miss
    rules: LibraryRules = field(default_factory=LibraryRules)
    # Votes per learner per minute (VOTES_PER_MINUTE), counted on the counters table; None: not limited.
    vote_counter: RateCounter | None = None
    votes_per_minute: int = 10


@dataclass(frozen=True)
class VoteOutcome:
    version: Version
    vote: VoteValue
    changed: bool  # False: the learner's vote was already this one; no count moved
    approved_now: bool
    regeneration: Job | JobRef | None
    served_version: str | None


@dataclass(frozen=True)
class VersionList:
    key: str
    versions: list[Version]  # best first
    key_hits: int


def version_for(content_id: str, caller: Caller, deps: LibraryDeps) -> Version:
    """The version named by ``content_id``; another learner's personal version is reported as not found."""
    key = key_of(content_id)
    version = deps.library.get_version(key, content_id, deps.serve.clock.now())
    if version is None or (version.owner is not None and version.owner != caller.sub and not caller.is_admin):
        raise NotFound(f"no content {content_id}")
    return version


@dataclass(frozen=True)
class VersionRead:
    version: Version
    content: StoredContent | None  # None: the reader holds this version already, so its body was not read


def read_version(content_id: str, caller: Caller, deps: LibraryDeps, *, held: bool = False) -> VersionRead:
    """One version: its counter item (who may read it, its figures) and, unless the reader says it holds this
    version already (a version's body never changes), its body. Another learner's personal version, an unknown
    or an expired one is not found, held or not."""
    version = version_for(content_id, caller, deps)
    if held:
        return VersionRead(version, None)
    content = deps.library.get_body(version.key, content_id)
    if content is None:
        raise NotFound(f"no content {content_id}")
    return VersionRead(version, content)


def list_versions(content_id: str, caller: Caller, deps: LibraryDeps) -> VersionList:
    version = version_for(content_id, caller, deps)
    versions = deps.library.list_versions(version.key, deps.serve.clock.now())
    hits = deps.library.key_hits(version.key)
    return VersionList(key=version.key, versions=ranked(versions, hits), key_hits=hits)


def check_vote_rate(caller: Caller, deps: LibraryDeps) -> None:
    """At most ``votes_per_minute`` vote requests per learner per minute (a repeat counts too): past it, 429."""
    if deps.vote_counter is None:
        return
    now = deps.serve.clock.now()
    consumed = deps.vote_counter.consume(caller.sub, [(_VOTE_WINDOW, _MINUTE, deps.votes_per_minute)], 1, now)
    if consumed.refused is not None:
        logger.info("votes rate limited", sub=caller.sub, per_minute=deps.votes_per_minute)
        raise TooManyVotes(deps.votes_per_minute, retry_after=_MINUTE - int(now) % _MINUTE)


def cast_vote(
    content_id: str,
    caller: Caller,
    vote: VoteValue,
    comment: str | None,
    deps: LibraryDeps,
    *,
    reason: VoteReason | None = None,
) -> VoteOutcome:
    """One vote per learner per version. Changing it moves the counts by exactly the difference; repeating it
    changes nothing. Counts move in the same transaction as the learner's vote item, so concurrent voters are
    each counted exactly once. ``comment`` is kept for people to read, never sent to the model; ``reason`` (a
    closed set) is counted in the summary an automatic regeneration sends."""
    check_vote_rate(caller, deps)
    version = version_for(content_id, caller, deps)
    library = deps.library
    now = deps.serve.clock.now()
    changed = False
    for _ in range(_VOTE_ATTEMPTS):
        current = library.get_vote(version.key, content_id, caller.sub)
        if current is not None and current[0] == vote and comment in (None, current[1]) and reason is None:
            break  # the same vote again: nothing changes
        old = current[0] if current else None
        delta = vote_delta(old, vote)
        if library.put_vote(
            version, caller.sub, old=old, new=vote, delta=delta, comment=comment, reason=reason, now=now
        ):
            changed = delta != (0, 0)
            break
    else:
        raise Conflict("the vote kept changing while it was being recorded; try again")
    if not changed:
        return VoteOutcome(version, vote, changed=False, approved_now=False, regeneration=None, served_version=None)
    after = library.get_version(version.key, content_id, now) or version
    approved_now = False
    if deps.rules.approves(after) and library.set_status(
        after.key, content_id, VersionStatus.APPROVED, expected=VersionStatus.ACTIVE
    ):
        approved_now = True
        after = replace(after, status=VersionStatus.APPROVED)
        logger.info("version approved", content_id=content_id, up=after.up, down=after.down)
    regeneration = _regenerate_if_voted_down(after, deps, now)
    served = rerank(after.key, library, now)
    return VoteOutcome(
        after,
        vote,
        changed=True,
        approved_now=approved_now,
        regeneration=regeneration,
        served_version=served.version_id if served else None,
    )


def _regenerate_if_voted_down(version: Version, deps: LibraryDeps, now: float) -> Job | JobRef | None:
    """Enqueue the automatic regeneration of a voted-down version, once (the first caller to mark it)."""
    library = deps.library
    if not (deps.rules.wants_regeneration(version) and library.mark_regeneration(version.key, version.version_id, now)):
        return None
    summary = vote_summary(version, deps.library.down_vote_reasons(version.key, version.version_id))
    from pregen.services.limits import check_generation_allowance

    try:
        # Votes spend the system's own budget (learners voting cannot spend theirs or anyone else's), under the
        # daily ceiling like every other path.
        check_generation_allowance(
            VOTE_REGENERATION, "vote_regeneration", deps.serve, lambda price: price.content(version_request(version))
        )
        job, _ = _enqueue_regeneration(version, summary, deps)
    except Exception:
        # The vote itself is recorded; free the mark so the next down vote asks again, and answer the vote.
        logger.exception("automatic regeneration could not be enqueued", content_id=version.version_id)
        library.clear_regeneration(version.key, version.version_id)
        return None
    logger.info("automatic regeneration", content_id=version.version_id, job_id=job.job_id, net=version.net)
    return job


# Vote-triggered regeneration is charged to this identity: a system budget of its own (the teacher role's
# allowance), so a burst of down votes across the library cannot spend more than that in a window.
VOTE_REGENERATION = Caller(sub="pregen-vote-regeneration", role=Role.TEACHER)


def version_request(version: Version) -> ContentRequest:
    return ContentRequest.model_validate(version.request, context=STORED)


def request_regeneration(
    content_id: str, caller: Caller, reason: str, deps: LibraryDeps, *, correlation_id: str | None = None
) -> tuple[Job | JobRef, bool]:
    """Enqueue a new version of the key with the teacher's or admin's reason, quoted as data, as feedback (or join
    the one in flight: two concurrent calls make one new version). The old version stays served until the new one
    is valid and, for shared content, approved or out-voting it (``is_pending``)."""
    from pregen.services.limits import check_generation_allowance  # the API's path only (see below)

    version = version_for(content_id, caller, deps)
    check_generation_allowance(caller, "regenerate", deps.serve, lambda price: price.content(version_request(version)))
    return _enqueue_regeneration(version, quoted_reason(caller, reason), deps, correlation_id=correlation_id)


def vote_summary(version: Version, reasons: dict[str, int]) -> str:
    """What an automatic regeneration tells the model: written by the server from counts only (no learner's text)."""
    picked = ", ".join(f"{name} ({reasons[name]})" for name in VOTE_REASONS if reasons.get(name))
    return (
        f"Automatic regeneration: learners voted the earlier version down ({version.up} up, {version.down} down)."
        f" Reasons picked by down voters: {picked or 'none given'}."
    )


def quoted_reason(caller: Caller, reason: str) -> str:
    """A teacher's or admin's reason, bounded and quoted as one JSON string (newlines and quotes escaped, so it
    cannot end the quote or the prompt's delimited block), under a label that says it is data."""
    quoted = json.dumps(reason.strip()[:REASON_CHARS], ensure_ascii=False).replace("<", "\\u003c")
    return f"Regeneration asked for by a {caller.role.value}. Their reason, quoted (untrusted data): {quoted}"


def _enqueue_regeneration(
    version: Version, feedback: str, deps: LibraryDeps, *, correlation_id: str | None = None
) -> tuple[Job | JobRef, bool]:
    # The serving path's enqueue-or-join is imported here, not at the top: the worker publishes versions through
    # this module and never enqueues, so its cold start does not load the serving path.
    from pregen.services.content import enqueue_or_join

    request = ContentRequest.model_validate(version.request, context=STORED)
    # The key folds in the owner for personal content: regenerate on the owner's behalf, under the same key.
    owner = Caller(sub=version.owner or "library")
    if cache_key(request, owner) != version.key:
        raise NotFound(f"content {version.version_id} belongs to an older key version and cannot be regenerated")
    job, joined = enqueue_or_join(
        request,
        owner,
        Priority.DEFAULT,
        deps.serve,
        correlation_id=correlation_id,
        regenerate_of=version.version_id,
        feedback=feedback,
    )
    if job is None:  # only a first generation can find its content already there; a regeneration never does
        raise RuntimeError(f"regeneration of {version.version_id} was not enqueued")
    return job, joined
