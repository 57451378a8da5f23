"""The shared lesson library's use cases: list a key's versions, vote on one, regenerate one, and keep the
served (best) version in step with the ranking.

The served version is denormalised into the key's ``content`` item, so the hit path stays one GetItem. It is
rewritten only here, when the ranking changes (a vote, an approval, a new valid version), never by a read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pregen.domain.errors import Conflict, NotFound
from pregen.domain.keys import cache_key
from pregen.domain.library import (
    LibraryRules,
    Version,
    VersionStatus,
    best_of,
    key_of,
    new_version_id,
    rank,
    vote_delta,
)
from pregen.domain.models import Caller, ContentRequest, Priority
from pregen.domain.quality import estimate_minutes, validation_score
from pregen.observability import logger

if TYPE_CHECKING:
    from pydantic import BaseModel

    from pregen.domain.library import VoteValue
    from pregen.domain.models import Job
    from pregen.domain.records import StoredContent
    from pregen.ports import ContentStore, LibraryStore
    from pregen.services.content import ServeDeps

_VOTE_ATTEMPTS = 5
_RERANK_ATTEMPTS = 3
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
    regeneration: Job | None
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


def _regenerate_if_voted_down(version: Version, deps: LibraryDeps, now: float) -> Job | None:
    """Enqueue the automatic regeneration of a voted-down version, once (the first caller to mark it)."""
    library = deps.library
    if not (deps.rules.wants_regeneration(version) and library.mark_regeneration(version.key, version.version_id, now)):
        return None
    reason = f"automatic: learners voted it down (net {version.net}, below {deps.rules.regenerate_below_net_votes})"
    try:
        job, _ = _enqueue_regeneration(version, reason, deps)
    except Exception:
        # The vote itself is recorded; free the mark so the next down vote asks again, and answer the vote.
        logger.exception("automatic regeneration could not be enqueued", content_id=version.version_id)
        library.clear_regeneration(version.key, version.version_id)
        return None
    logger.info("automatic regeneration", content_id=version.version_id, job_id=job.job_id, net=version.net)
    return job


def request_regeneration(
    content_id: str, caller: Caller, reason: str, deps: LibraryDeps, *, correlation_id: str | None = None
) -> tuple[Job, bool]:
    """Enqueue a new version of the key with the reason and down-vote comments as feedback (or join the one in
    flight: two concurrent calls make one new version). The old version stays served until the new is valid."""
    from pregen.services.limits import check_generation_allowance  # the API's path only (see below)

    version = version_for(content_id, caller, deps)
    check_generation_allowance(caller, "regenerate", deps.serve)
    return _enqueue_regeneration(version, reason, deps, correlation_id=correlation_id)


def feedback_for(reason: str, comments: list[str]) -> str:
    lines = [f"Reason: {reason.strip()}"]
    if comments:
        lines.append("Comments from learners who voted it down:")
        lines += [f"- {c.strip()[:500]}" for c in comments[:_FEEDBACK_COMMENTS]]
    return "\n".join(lines)


def _enqueue_regeneration(
    version: Version, reason: str, deps: LibraryDeps, *, correlation_id: str | None = None
) -> tuple[Job, bool]:
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


def rerank(key: str, library: LibraryStore, now: float) -> Version | None:
    """Make the served version the best one, if the ranking changed; return the served version."""
    for _ in range(_RERANK_ATTEMPTS):
        versions = library.list_versions(key, now)
        current = next((v for v in versions if v.is_best), None)
        if len(versions) == 1 and current is not None:
            return current  # nothing to compare with: no read of the hit count, no write
        hits = library.key_hits(key)
        best = best_of(versions, hits)
        if best is None or (current is not None and current.version_id == best.version_id):
            return best
        body = library.get_body(key, best.version_id)
        if body is None:
            return current
        if library.promote(body, best, current, hits, now):
            logger.info("served version changed", key=key, served=best.version_id)
            return best
    logger.warning("re-ranking lost every race", key=key)
    return None


def publish_version(
    stored: StoredContent,
    request: ContentRequest,
    *,
    regenerate_of: str | None,
    library: LibraryStore,
    store: ContentStore,
    figures: dict[str, Any],
) -> Version:
    """Store a freshly validated generation as a version. The first version of a key is served at once; a
    regenerated one supersedes the version it replaces and the ranking decides what is served."""
    version = Version(
        version_id=str(stored.meta["version_id"]),
        key=stored.key,
        kind=stored.kind,
        status=VersionStatus.ACTIVE,
        created_at=stored.created_at,
        expires_at=stored.expires_at,
        request=request.canonical(),
        owner=stored.owner,
        is_best=regenerate_of is None,
        regenerate_of=regenerate_of,
        figures=figures,
    )
    library.add_version(stored, version, supersedes=regenerate_of)
    if regenerate_of is None:
        store.put_content(stored)
    else:
        rerank(stored.key, library, stored.created_at)
    return version


def library_figures(request: ContentRequest, content: BaseModel, key: str) -> dict[str, Any]:
    """What every stored version records besides the generation's own figures: its id and quality figures."""
    body = content.model_dump(mode="json")
    return {
        "version_id": new_version_id(key),
        "validation_score": validation_score(request, body),
        "estimated_minutes": estimate_minutes(body),
    }


def version_figures(meta: dict[str, Any]) -> dict[str, Any]:
    """The small copy of a version's figures kept on its counter item (listed without reading bodies)."""
    usage = meta.get("usage") or {}
    return {
        "validation_score": meta.get("validation_score"),
        "estimated_minutes": meta.get("estimated_minutes"),
        "latency_ms": meta.get("latency_ms"),
        "tokens": sum(int(v) for v in usage.values()),
        "model": meta.get("model"),
        "generator": meta.get("generator"),
        "cost_usd": meta.get("cost_usd"),
    }
