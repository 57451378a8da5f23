"""Warming: enqueue what a grade's subjects will need, at low priority, before learners ask for it.

Reuses :func:`pregen.services.content.pregenerate`, so a key already cached or in flight (in either lane) is not
enqueued again; warming only ever adds background work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pregen.domain.errors import InvalidRequest
from pregen.domain.models import Caller, Priority, Role
from pregen.services.content import pregenerate

if TYPE_CHECKING:
    from pregen.domain.warming import WarmingConfig
    from pregen.services.content import ServeDeps

# Warming makes shared content only; jobs it enqueues have no owner. This caller is never a learner.
WARMING_CALLER = Caller(sub="pregen-warming", role=Role.ADMIN)


@dataclass(frozen=True)
class LearnerProfile:
    """What to warm for: a grade and, optionally, some of its subjects (None: all configured)."""

    grade: str
    subjects: list[str] | None
    source: Literal["claims", "body"]


@dataclass
class WarmReport:
    grade: str
    subjects: list[str]
    requested: int = 0
    queued: int = 0
    in_flight: int = 0
    cached: int = 0
    job_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "grade": self.grade,
            "subjects": self.subjects,
            "requested": self.requested,
            "queued": self.queued,
            "in_flight": self.in_flight,
            "cached": self.cached,
        }


def resolve_profile(
    claims: tuple[str | None, list[str] | None], body: tuple[str | None, list[str] | None]
) -> LearnerProfile:
    """Grade and subjects from the verified claims when they carry them, else from the body.

    A body that contradicts the claims is refused rather than silently ignored: the token is the authority.
    """
    claim_grade, claim_subjects = claims
    body_grade, body_subjects = body
    if claim_grade:
        if body_grade and body_grade.strip() != claim_grade.strip():
            raise InvalidRequest(f"grade {body_grade!r} differs from your token's grade {claim_grade!r}")
        subjects = claim_subjects
        if claim_subjects and body_subjects:
            outside = [s for s in body_subjects if s not in claim_subjects]
            if outside:
                raise InvalidRequest(f"subject(s) {', '.join(outside)} are not among your token's subjects")
            subjects = body_subjects
        elif body_subjects:
            subjects = body_subjects
        return LearnerProfile(grade=claim_grade.strip(), subjects=subjects or None, source="claims")
    if not body_grade:
        raise InvalidRequest("no grade: the token carries none, so the body must give one")
    return LearnerProfile(grade=body_grade.strip(), subjects=body_subjects or None, source="body")


def warm(
    profile: LearnerProfile,
    config: WarmingConfig,
    deps: ServeDeps,
    *,
    correlation_id: str | None = None,
    learner: Caller | None = None,
) -> WarmReport:
    """Enqueue the profile's warming items in the background lane; report what was queued, joined or cached.

    A token describes the learner, the configuration what is worth warming: for a profile from the claims, a grade
    or subjects the configuration does not cover warm nothing (not an error: the app calls this at every login).
    From the body, they are the caller's mistake and a 400.
    """
    if profile.source == "claims":
        covered = _covered_by_config(profile, config)
        if covered is None:
            return WarmReport(grade=profile.grade, subjects=[])
        profile = covered
    subject_ids = config.subject_ids(profile.grade, profile.subjects)
    requests = config.requests_for(profile.grade, subject_ids)
    report = WarmReport(grade=profile.grade, subjects=subject_ids, requested=len(requests))
    # A learner's warm is charged to them for the items that will generate (429 past their allowance; cached and
    # in-flight items are free): shared items, deduplicated across learners and queued in the background. The
    # operator's scheduled warming (no learner) is bounded by its configuration and the daily ceiling.
    # pregenerate() takes batches of any size; chunks keep one call's work (and a Lambda's timeout) predictable.
    for start in range(0, len(requests), 100):
        for outcome in pregenerate(
            requests[start : start + 100],
            Priority.WARMING,
            WARMING_CALLER,
            deps,
            correlation_id=correlation_id,
            charge_to=learner,
            action="warm",
        ):
            _count(report, outcome.status, outcome.job_id)
    return report


def _covered_by_config(profile: LearnerProfile, config: WarmingConfig) -> LearnerProfile | None:
    """A profile from the claims narrowed to what the configuration covers; None when it covers none of it."""
    if profile.grade not in config.grades:
        return None
    if profile.subjects is None:
        return profile
    known = config.grades[profile.grade].subjects
    wanted = [s for s in profile.subjects if s in known]
    return LearnerProfile(grade=profile.grade, subjects=wanted, source="claims") if wanted else None


def _count(report: WarmReport, status: str, job_id: str | None) -> None:
    if status == "queued":
        report.queued += 1
        if job_id:
            report.job_ids.append(job_id)
    elif status == "in_flight":
        report.in_flight += 1
    else:
        report.cached += 1


def warm_all(config: WarmingConfig, deps: ServeDeps, *, correlation_id: str | None = None) -> list[WarmReport]:
    """The schedule: every configured grade, every subject."""
    return [
        warm(LearnerProfile(grade=grade, subjects=None, source="body"), config, deps, correlation_id=correlation_id)
        for grade in config.grades
    ]
