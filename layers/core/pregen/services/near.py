"""Near-duplicate requests served from the library, verified (issue 33; the rules are ``pregen.domain.near``).

::

    GET (exact key misses) ──get_alias──▶ alias? ──yes──▶ the target's content: a hit (one extra read)
                                             └─no──▶ 202 and a job, as before (one extra read, nothing else)
    worker, before the model ──entries(bucket)──▶ rank ──▶ per candidate: verdict cached? else judge (small tier)
          same ──▶ put_alias(wording → candidate, TTL) and the job done, without generating
          none ──▶ generate as before; the published item joins its bucket's index (add_entry)

The request path never searches: it reads the wording's alias item only when the exact key missed, and only for a
request that could have one (``bucket`` is not None). Candidates and judgements live in the worker, inside the
miss's existing job, charged to it (its history records each judgement's calls and cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pregen.domain.counters import Metric, name
from pregen.domain.near import IndexEntry, Verdict, bucket, rank
from pregen.observability import logger
from pregen.services.usage import day_of

if TYPE_CHECKING:
    from pregen.domain.models import ContentRequest
    from pregen.ports import ContentStore, Counters, Judge, NearStore

# How long a judgement is kept: a pair is judged once within it (a candidate republished later may be judged again).
VERDICT_TTL_DAYS = 30


@dataclass(frozen=True)
class Judged:
    """What the worker's search found: the alias target (None: generate), and the judgements it paid for now."""

    target: str | None
    why: str
    paid: list[Verdict]


@dataclass
class NearDeps:
    near: NearStore
    judge: Judge
    store: ContentStore
    counters: Counters
    alias_ttl_days: int = 30


def find_alias(request: ContentRequest, key: str, deps: NearDeps, now: float) -> Judged:
    """The worker, before generating a miss: judge the best candidates of its bucket; on the first ``same``, write
    the alias (expiring with its target at the latest). A judge's failure is logged and the miss generates."""
    group = bucket(request)
    if group is None:
        return Judged(None, "never shared", [])
    paid: list[Verdict] = []
    for entry in rank(request, deps.near.entries(group, now), key):
        verdict = deps.near.get_verdict(key, entry.key)
        if verdict is None:
            candidate = request.model_copy(update={"subject": entry.subject, "topic": entry.topic})
            try:
                verdict = deps.judge.judge_same(request, candidate)
            except Exception:
                logger.exception("near-duplicate judgement failed: generating", key=key, candidate=entry.key)
                break
            paid.append(verdict)
            deps.near.put_verdict(key, entry.key, verdict, now, now + VERDICT_TTL_DAYS * 86_400)
        if not verdict.same:
            continue
        target = deps.store.get_content(entry.key, now, consistent=True)
        if target is None:
            continue  # expired since it was indexed
        expires_at = min(now + deps.alias_ttl_days * 86_400, target.expires_at)
        deps.near.put_alias(key, entry.key, verdict.why, now, expires_at)
        _count(deps, request, paid, now, aliased=True)
        return Judged(entry.key, verdict.why, paid)
    _count(deps, request, paid, now, aliased=False)
    return Judged(None, "no candidate judged the same", paid)


def _count(deps: NearDeps, request: ContentRequest, paid: list[Verdict], now: float, *, aliased: bool) -> None:
    kind = request.kind.value
    counts: dict[str, int | float] = {}
    if paid:
        counts[name(Metric.JUDGED, kind)] = len(paid)
        counts[name(Metric.JUDGE_COST_USD, kind)] = sum(v.cost_usd for v in paid)
    if aliased:
        counts[name(Metric.ALIASED, kind)] = 1
    if counts:
        deps.counters.add(day_of(now), counts, now)


def revoke_alias(key: str, near: NearStore, now: float) -> str:
    """An admin withdraws an alias: the wording goes back to generation. The pair's verdict becomes a no, so the
    wording's next miss is not aliased to the same content again. Returns the target; NotFound when there is none."""
    from pregen.domain.errors import NotFound

    target = near.get_alias(key, now)
    if target is None or not near.delete_alias(key):
        raise NotFound(f"no alias {key}")
    near.put_verdict(key, target, Verdict(False, "revoked by an admin"), now, now + VERDICT_TTL_DAYS * 86_400)
    logger.info("alias revoked", key=key, target=target)
    return target


def index_published(near: NearStore, request: ContentRequest, key: str, expires_at: float) -> None:
    """A published shared item joins its bucket's candidate index (expiring with it); others never do."""
    entry = index_entry(request, key)
    if entry is not None:
        near.add_entry(*entry, expires_at)


def index_entry(request: ContentRequest, key: str) -> tuple[str, IndexEntry] | None:
    """A published item's bucket and its entry in the bucket's candidate index; None: it is in no bucket."""
    group = bucket(request)
    if group is None:
        return None
    return group, IndexEntry(key=key, subject=request.subject, topic=request.topic)
