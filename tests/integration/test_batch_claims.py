"""The Message Batches claim, one rule for the three things sent in batches (a content job, an exam section, a course
judgement; ``ddb.claim_for_batch``): one claimer at a time, an expired claim taken over, a release only by its
owner, and never claimed again once in a batch. A judgement already made is not claimed either."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from pregen.adapters.counters import DynamoCounters
from pregen.adapters.courses import DynamoCourseStore
from pregen.adapters.exams import DynamoExamInventory
from pregen.adapters.jobs import DynamoJobStore
from pregen.domain.models import Job, JobStatus
from pregen.domain.programs import SectionSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.records import BatchClaim
    from tests.integration.conftest import Aws

NOW = 1_900_000_000.0


@dataclass
class Claimable:
    claim: Callable[[str, float, float], BatchClaim]
    release: Callable[[str], None]
    record: Callable[[str, str], None]  # (claimer, batch id)


def _job(aws: Aws) -> Claimable:
    jobs = DynamoJobStore(aws.resources.tables["JobsTable"], ttl_days=7)
    jobs.put_job(
        Job.model_validate(
            {
                "job_id": "j1",
                "kind": "lesson",
                "key": "k1",
                "request": {"kind": "lesson", "subject": "math"},
                "status": "queued",
                "lane": "background",
                "priority": 10,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )
    )
    return Claimable(
        claim=lambda owner, now, until: jobs.claim_for_batch("j1", owner, now, until),
        release=lambda owner: jobs.release_batch_claim("j1", owner),
        record=lambda _claimer, batch: jobs.record_batch("j1", batch, NOW, reason="in a batch", hold_until=NOW + 9e4),
    )


def _section(aws: Aws) -> Claimable:
    tables = aws.resources.tables
    exams = DynamoExamInventory(tables["ExamsTable"], DynamoCounters(tables["CountersTable"]))
    spec = SectionSpec(
        exam_id="e1",
        program="p",
        exam_type="practice",
        subject="s",
        index=2,
        domain="d",
        count=5,
        offset=0,
        question_types={},
        difficulty={},
    )
    return Claimable(
        claim=lambda owner, now, until: exams.claim_section_for_batch("e1", 2, owner, now, until),
        release=lambda owner: exams.release_section_claim("e1", 2, owner),
        record=lambda claimer, batch: exams.record_section_batch("learner", spec, claimer, batch, NOW + 9e4),
    )


def _judgement(aws: Aws) -> Claimable:
    courses = DynamoCourseStore(aws.resources.tables["ExamsTable"])
    return Claimable(
        claim=lambda owner, now, until: courses.claim_judgement_for_batch("c1", "p1", owner, now, until),
        release=lambda owner: courses.release_judgement_claim("c1", "p1", owner),
        record=lambda claimer, batch: courses.record_judgement_batch("c1", "p1", claimer, batch, NOW + 9e4),
    )


@pytest.mark.parametrize("make", [_job, _section, _judgement], ids=["job", "exam_section", "course_judgement"])
def test_one_claimer_at_a_time_and_never_again_once_in_a_batch(aws: Aws, make: Callable[[Aws], Claimable]) -> None:
    thing = make(aws)
    assert thing.claim("a", NOW, NOW + 30).won
    lost = thing.claim("b", NOW + 1, NOW + 31)
    assert (lost.won, lost.held_until, lost.batch_id) == (False, NOW + 30, None)
    assert thing.claim("b", NOW + 31, NOW + 61).won  # a's claim ran out: taken over
    thing.release("a")  # not a's any more: nothing changes
    assert not thing.claim("c", NOW + 32, NOW + 62).won
    thing.release("b")
    assert thing.claim("c", NOW + 32, NOW + 62).won
    thing.record("c", "batch-1")
    late = thing.claim("d", NOW + 10**6, NOW + 10**6 + 30)
    assert (late.won, late.batch_id) == (False, "batch-1")
    thing.release("c")  # in a batch: the claim stays
    assert not thing.claim("e", NOW + 10**6, NOW + 10**6 + 30).won


def test_a_job_that_is_generating_and_a_judgement_already_made_are_not_claimed(aws: Aws) -> None:
    job = _job(aws)
    DynamoJobStore(aws.resources.tables["JobsTable"], ttl_days=7).set_status("j1", JobStatus.GENERATING, NOW)
    taken = job.claim("a", NOW, NOW + 30)
    assert not taken.won and taken.job is not None and taken.job.status is JobStatus.GENERATING
    courses = DynamoCourseStore(aws.resources.tables["ExamsTable"])
    assert courses.put_judgement("c1", "p1", {"aligned": True}, NOW + 9e4)
    made = courses.claim_judgement_for_batch("c1", "p1", "a", NOW, NOW + 30)
    assert (made.won, made.batch_id) == (False, "result")
