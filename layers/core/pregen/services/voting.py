"""Voting in the shared library: list a key's versions, vote on one (approval and re-ranking follow), and regenerate
one on request or when it is voted down. Publishing a new version is ``pregen.services.publishing``."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pregen.domain.errors import Conflict, NotFound
from pregen.domain.keys import cache_key
from pregen.domain.library import (
    LibraryRules,
    Version,
    VersionStatus,
    key_of,
    rank,
    vote_delta,
)
from pregen.domain.models import Caller, ContentRequest, Priority, Role
from pregen.observability import logger
from pregen.services.publishing import rerank

if TYPE_CHECKING:
    from pregen.domain.library import VoteValue
    from pregen.domain.models import Job, JobRef
    from pregen.domain.records import StoredContent
    from pregen.ports import LibraryStore
    from pregen.services.content import ServeDeps

_VOTE_ATTEMPTS = 5
_FEEDBACK_COMMENTS = 20


@dataclass
class LibraryDeps:
    library: LibraryStore
    serve: ServeDeps  # regeneration is an enqueue-or-join of the key, exactly like a miss
    rules: LibraryRules = field(default_factory=LibraryRules)


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
    return VersionList(
        key=version.key, versions=sorted(versions, key=lambda v: rank(v, hits), reverse=True), key_hits=hits
    )


def cast_vote(content_id: str, caller: Caller, vote: VoteValue, comment: str | None, deps: LibraryDeps) -> VoteOutcome:
    """One vote per learner per version. Changing it moves the counts by exactly the difference; repeating it
    changes nothing. Counts move in the same transaction as the learner's vote item, so concurrent voters are
    each counted exactly once."""
    version = version_for(content_id, caller, deps)
    library = deps.library
    now = deps.serve.clock.now()
    changed = False
    for _ in range(_VOTE_ATTEMPTS):
        current = library.get_vote(version.key, content_id, caller.sub)
        if current is not None and current[0] == vote and comment in (None, current[1]):
            break  # the same vote again: nothing changes
        old = current[0] if current else None
        delta = vote_delta(old, vote)
        if library.put_vote(version, caller.sub, old=old, new=vote, delta=delta, comment=comment, now=now):
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
    reason = f"automatic: learners voted it down (net {version.net}, below {deps.rules.regenerate_below_net_votes})"
    from pregen.services.limits import check_generation_allowance

    try:
        # Votes spend the system's own budget (learners voting cannot spend theirs or anyone else's), under the
        # daily ceiling like every other path.
        check_generation_allowance(
            VOTE_REGENERATION, "vote_regeneration", deps.serve, lambda price: price.content(version_request(version))
        )
        job, _ = _enqueue_regeneration(version, reason, deps)
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
    return ContentRequest.model_validate(version.request)


def request_regeneration(
    content_id: str, caller: Caller, reason: str, deps: LibraryDeps, *, correlation_id: str | None = None
) -> tuple[Job | JobRef, bool]:
    """Enqueue a new version of the key with the reason and down-vote comments as feedback (or join the one in
    flight: two concurrent calls make one new version). The old version stays served until the new is valid."""
    from pregen.services.limits import check_generation_allowance  # the API's path only (see below)

    version = version_for(content_id, caller, deps)
    check_generation_allowance(caller, "regenerate", deps.serve, lambda price: price.content(version_request(version)))
    return _enqueue_regeneration(version, reason, deps, correlation_id=correlation_id)


def feedback_for(reason: str, comments: list[str]) -> str:
    lines = [f"Reason: {reason.strip()}"]
    if comments:
        lines.append("Comments from learners who voted it down:")
        lines += [f"- {c.strip()[:500]}" for c in comments[:_FEEDBACK_COMMENTS]]
    return "\n".join(lines)


def _enqueue_regeneration(
    version: Version, reason: str, deps: LibraryDeps, *, correlation_id: str | None = None
) -> tuple[Job | JobRef, bool]:
    # The serving path's enqueue-or-join is imported here, not at the top: the worker publishes versions through
    # this module and never enqueues, so its cold start does not load the serving path.
    from pregen.services.content import enqueue_or_join

    comments = deps.library.down_vote_comments(version.key, version.version_id, _FEEDBACK_COMMENTS)
    request = ContentRequest.model_validate(version.request)
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
        feedback=feedback_for(reason, comments),
    )
    if job is None:  # only a first generation can find its content already there; a regeneration never does
        raise RuntimeError(f"regeneration of {version.version_id} was not enqueued")
    return job, joined
