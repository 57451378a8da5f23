"""Publishing in the shared library: a validated generation becomes a version, and the served (best) version
follows the ranking.

The served version is denormalised into the key's ``content`` item, so the hit path stays one GetItem. It is
rewritten only here, when the ranking changes (a vote, an approval, a new valid version), never by a read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pregen.domain.library import Version, VersionStatus, best_of, new_version_id
from pregen.domain.quality import estimate_minutes, quality_checks, score_of
from pregen.observability import logger

if TYPE_CHECKING:
    from pydantic import BaseModel

    from pregen.domain.models import ContentRequest
    from pregen.domain.records import StoredContent
    from pregen.ports import ContentStore, LibraryStore

_RERANK_ATTEMPTS = 3


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
    """Store a freshly validated generation as a version. The first version of a key is served at once. A
    regenerated personal version supersedes the one it replaces; a regenerated shared version does not: it waits
    beside it (``is_pending``) until approved or out-voting it, and the ranking decides what is served."""
    version = version_of(stored, request, figures=figures, regenerate_of=regenerate_of)
    library.add_version(stored, version, supersedes=regenerate_of if stored.owner is not None else None)
    if regenerate_of is None:
        store.put_content(stored)
    else:
        rerank(stored.key, library, stored.created_at)
    return version


def version_of(
    stored: StoredContent, request: ContentRequest, *, figures: dict[str, Any], regenerate_of: str | None = None
) -> Version:
    """A generation's version as the library stores it: served at once when it is the key's first (no
    ``regenerate_of``), waiting beside the served one when it regenerates it."""
    return Version(
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


def library_figures(request: ContentRequest, content: BaseModel, key: str) -> dict[str, Any]:
    """What every stored version records besides the generation's own figures: its id and quality figures."""
    body = content.model_dump(mode="json")
    checks = quality_checks(request, body)
    return {
        "version_id": new_version_id(key),
        "validation_score": score_of(checks),
        "validation_checks": {name: round(value, 3) for name, value in checks.items()},  # each check's result
        "estimated_minutes": estimate_minutes(body),
    }


def version_figures(meta: dict[str, Any]) -> dict[str, Any]:
    """The small copy of a version's figures kept on its counter item (listed without reading bodies)."""
    usage = meta.get("usage") or {}
    return {
        "validation_score": meta.get("validation_score"),
        "validation_checks": meta.get("validation_checks"),
        "estimated_minutes": meta.get("estimated_minutes"),
        "latency_ms": meta.get("latency_ms"),
        "tokens": sum(int(v) for v in usage.values()),
        "model": meta.get("model"),
        "generator": meta.get("generator"),
        "cost_usd": meta.get("cost_usd"),
    }
