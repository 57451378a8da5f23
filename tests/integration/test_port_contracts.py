"""The ports' contract, held by both implementations: the DynamoDB adapters (on moto, with the template's tables)
and the in-memory twins the workload simulator runs on (pregen_fakes.memory). A behaviour the services rely on is
asserted here once and must hold on both, so the simulator cannot drift from what production does.

The in-memory adapters, each run against its DynamoDB twin: MemoryContentStore (ContentStore), MemoryJobStore
(JobStore), MemoryKeyClaims (KeyClaims), MemoryCounters (Counters), MemoryTransitionStore (TransitionStore),
MemoryNearStore (NearStore), MemoryGenerationWrites (GenerationWrites); a new
one must join ``Ports``."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from pregen.adapters.claims import DynamoKeyClaims
from pregen.adapters.content import DynamoContentStore
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.finish import DynamoGenerationWrites
from pregen.adapters.jobs import DynamoJobStore
from pregen.adapters.navigation import DynamoTransitionStore
from pregen.adapters.near import DynamoNearStore
from pregen.domain.clock import FrozenClock
from pregen.domain.errors import LeaseHeld
from pregen.domain.limits import Charge, Consumed
from pregen.domain.models import Job, JobStatus, Lane
from pregen.domain.near import IndexEntry, Verdict
from pregen.domain.prediction import TransitionCounts
from pregen.domain.records import FinishedGeneration, KeyClaim, StoredContent
from pregen_fakes import memory
from pregen_fakes.memory import (
    MemoryContentStore,
    MemoryCounters,
    MemoryGenerationWrites,
    MemoryJobStore,
    MemoryKeyClaims,
    MemoryNearStore,
    MemoryTransitionStore,
)

if TYPE_CHECKING:
    from pregen.ports import ContentStore, Counters, GenerationWrites, JobStore, KeyClaims, NearStore, TransitionStore
    from tests.integration.conftest import Aws

NOW = 1_900_000_000.0


@dataclass
class Ports:
    content: ContentStore
    jobs: JobStore
    claims: KeyClaims
    counters: Counters
    transitions: TransitionStore
    near: NearStore
    writes: GenerationWrites


@pytest.fixture(params=["dynamodb", "memory"])
def ports(request: pytest.FixtureRequest) -> Ports:
    if request.param == "memory":
        return _memory_ports()
    aws: Aws = request.getfixturevalue("aws")
    tables = aws.resources.tables
    jobs = DynamoJobStore(tables["JobsTable"], ttl_days=7)
    content, counters = DynamoContentStore(tables["ContentTable"]), DynamoCounters(tables["CountersTable"])
    return Ports(
        content,
        jobs,
        DynamoKeyClaims(tables["ContentTable"], jobs, counters_table=tables["CountersTable"]),
        counters,
        DynamoTransitionStore(tables["NavigationTable"]),
        DynamoNearStore(tables["ContentTable"], boto3.client("dynamodb")),
        DynamoGenerationWrites(boto3.client("dynamodb"), store=content, jobs=jobs, counters=counters),
    )


def test_every_in_memory_adapter_is_held_to_the_contract() -> None:
    adapters = {name for name, cls in inspect.getmembers(memory, inspect.isclass) if cls.__module__ == memory.__name__}
    held = {type(value).__name__ for value in vars(_memory_ports()).values()}
    assert adapters == held, "an in-memory adapter that Ports does not run"
    assert len(fields(Ports)) == len(held)


def _memory_ports() -> Ports:
    content, jobs, near = MemoryContentStore(clock=FrozenClock(NOW)), MemoryJobStore(), MemoryNearStore()
    counters = MemoryCounters()
    writes = MemoryGenerationWrites(content, jobs, counters)
    return Ports(content, jobs, MemoryKeyClaims(content, jobs, near), counters, MemoryTransitionStore(), near, writes)


def _content(key: str, expires_at: float = NOW + 3600) -> StoredContent:
    body: dict[str, Any] = {"title": key, "sections": [{"heading": "h", "body": "b"}]}
    return StoredContent(
        key=key, kind="lesson", body=body, meta={"cost_usd": 0.01}, owner=None, created_at=NOW, expires_at=expires_at
    )


def _job(job_id: str = "j1") -> Job:
    return Job.model_validate(
        {
            "job_id": job_id,
            "key": "k1",
            "kind": "lesson",
            "request": {"kind": "lesson", "subject": "math"},
            "status": "queued",
            "lane": "interactive",
            "priority": 50,
            "created_at": NOW,
            "updated_at": NOW,
        }
    )


def test_content_reads_back_and_an_expired_item_is_never_served(ports: Ports) -> None:
    ports.content.put_content(_content("live"))
    ports.content.put_content(_content("stale", expires_at=NOW - 1))
    got = ports.content.get_content("live", NOW, consistent=True)
    assert got is not None and got.body == _content("live").body and got.meta == {"cost_usd": 0.01}
    assert ports.content.get_content("stale", NOW) is None
    assert ports.content.get_content("never-stored", NOW) is None


def test_the_first_claim_of_a_key_wins_and_later_ones_join_it_until_it_expires(ports: Ports) -> None:
    first = ports.content.claim_inflight("k", "job-a", Lane.BACKGROUND, NOW, hold_seconds=60)
    second = ports.content.claim_inflight("k", "job-b", Lane.INTERACTIVE, NOW + 1, hold_seconds=60)
    assert (first.won, first.job_id) == (True, "job-a")
    assert (second.won, second.job_id, second.lane) == (False, "job-a", "background")
    live = ports.content.get_inflight("k", NOW + 1)
    assert live is not None and live.job_id == "job-a"
    # Past its hold the marker is nobody's: it reads as absent and the next claim wins
    assert ports.content.get_inflight("k", NOW + 61) is None
    assert ports.content.claim_inflight("k", "job-c", Lane.INTERACTIVE, NOW + 61, hold_seconds=60).won


def test_a_claim_records_the_job_with_the_marker_and_a_lost_one_names_the_holder_and_writes_nothing(
    ports: Ports,
) -> None:
    first = ports.claims.claim(_job("j1"), NOW, hold_seconds=60, unless_cached=True)
    assert first == KeyClaim(won=True)
    recorded = ports.jobs.get_job("j1")
    assert recorded is not None and recorded.key == "k1"
    marker = ports.content.get_inflight("k1", NOW)
    assert marker is not None and (marker.job_id, marker.lane, marker.claimed_at) == ("j1", "interactive", NOW)
    # A later claim of the key is told whose marker holds it (no read needed), and writes no job
    lost = ports.claims.claim(_job("j2"), NOW + 1, hold_seconds=60, unless_cached=True)
    assert (lost.won, lost.cached) == (False, False) and lost.held is not None
    assert (lost.held.job_id, lost.held.lane, lost.held.state, lost.held.claimed_at) == (
        "j1",
        "interactive",
        "queued",
        NOW,
    )
    assert ports.jobs.get_job("j2") is None
    # Past its hold the marker is nobody's: the next claim wins
    assert ports.claims.claim(_job("j3"), NOW + 61, hold_seconds=60, unless_cached=True).won
    marker = ports.content.get_inflight("k1", NOW + 61)
    assert marker is not None and marker.job_id == "j3"


def test_a_claim_of_a_key_with_live_content_writes_nothing_unless_regenerating(ports: Ports) -> None:
    ports.content.put_content(_content("k1"))
    assert ports.claims.claim(_job("j1"), NOW, hold_seconds=60, unless_cached=True) == KeyClaim(won=False, cached=True)
    assert ports.jobs.get_job("j1") is None and ports.content.get_inflight("k1", NOW) is None
    # A regeneration claims a key that has content
    assert ports.claims.claim(_job("j2"), NOW, hold_seconds=60, unless_cached=False).won
    assert ports.jobs.get_job("j2") is not None
    # Content past its expiry is never served: it does not stop a claim
    ports.content.put_content(_content("k1", expires_at=NOW - 1))
    ports.content.release_inflight("k1", "j2")
    assert ports.claims.claim(_job("j3"), NOW, hold_seconds=60, unless_cached=True).won


def test_a_claim_checking_the_alias_is_told_its_target_and_writes_nothing(ports: Ports) -> None:
    ports.near.put_alias("k1", "target-key", "same lesson", NOW, expires_at=NOW + 60)
    # A claim that checks the wording's alias learns the target from the cancelled write, and writes nothing
    lost = ports.claims.claim(_job("j1"), NOW, hold_seconds=60, unless_cached=True, alias=True)
    assert lost == KeyClaim(won=False, alias="target-key")
    assert ports.jobs.get_job("j1") is None and ports.content.get_inflight("k1", NOW) is None
    # One that does not check it claims the key; past its expiry the alias stops no claim
    assert ports.claims.claim(_job("j2"), NOW, hold_seconds=60, unless_cached=True).won
    assert ports.claims.claim(_job("j3"), NOW + 61, hold_seconds=30, unless_cached=True, alias=True).won


def test_a_charge_in_a_claim_is_counted_with_it_or_refuses_it_with_the_counts_as_they_stood(ports: Ports) -> None:
    windows = [("minute", 60, 100), ("day", 86_400, 150)]
    won = ports.claims.claim(_job("j1"), NOW, hold_seconds=60, unless_cached=True, charge=Charge("ann", windows, 60))
    assert won == KeyClaim(won=True)
    job2 = _job("j2").model_copy(update={"key": "k2"})
    # A second charge past the minute's room: nothing written, the minute named, the counts as they stood
    refused = ports.claims.claim(job2, NOW + 1, hold_seconds=9, unless_cached=True, charge=Charge("ann", windows, 50))
    assert refused == KeyClaim(won=False, refused=Consumed(refused="minute", used={"minute": 60, "day": 60}))
    assert ports.jobs.get_job("j2") is None and ports.content.get_inflight("k2", NOW + 1) is None
    # A claim lost to the marker charges nothing: the minute after, the day still holds only the first 60
    lost = ports.claims.claim(
        _job("j3"), NOW + 2, hold_seconds=60, unless_cached=True, charge=Charge("ann", windows, 1)
    )
    assert lost.held is not None and lost.held.job_id == "j1"
    job4 = _job("j4").model_copy(update={"key": "k4"})
    late = ports.claims.claim(job4, NOW + 60, hold_seconds=60, unless_cached=True, charge=Charge("ann", windows, 95))
    assert late == KeyClaim(won=False, refused=Consumed(refused="day", used={"minute": 0, "day": 60}))


def test_a_queued_key_is_promoted_once_and_only_by_its_own_job(ports: Ports) -> None:
    ports.content.claim_inflight("k", "job-a", Lane.BACKGROUND, NOW, hold_seconds=60)
    assert not ports.content.promote_inflight("k", "job-other", Lane.INTERACTIVE)
    assert ports.content.promote_inflight("k", "job-a", Lane.INTERACTIVE)
    assert not ports.content.promote_inflight("k", "job-a", Lane.INTERACTIVE)  # already there
    live = ports.content.get_inflight("k", NOW)
    assert live is not None and live.lane == "interactive"


def test_a_marker_is_taken_over_held_and_released_only_by_the_job_named(ports: Ports) -> None:
    ports.content.claim_inflight("k", "stale-job", Lane.INTERACTIVE, NOW, hold_seconds=60)
    assert not ports.content.take_over_inflight("k", "other", "job-b", Lane.INTERACTIVE, now=NOW, hold_seconds=60)
    assert ports.content.take_over_inflight("k", "stale-job", "job-b", Lane.INTERACTIVE, now=NOW, hold_seconds=60)
    assert not ports.content.hold_inflight("k", "stale-job", NOW + 3600)
    assert ports.content.hold_inflight("k", "job-b", NOW + 3600)
    held = ports.content.get_inflight("k", NOW + 600)  # held past its original 60 s
    assert held is not None and held.job_id == "job-b"
    ports.content.release_inflight("k", "stale-job")  # not its marker: nothing happens
    assert ports.content.get_inflight("k", NOW) is not None
    ports.content.release_inflight("k", "job-b")
    assert ports.content.get_inflight("k", NOW) is None


def test_a_lease_unless_cached_writes_nothing_once_the_key_has_content_and_still_refuses_a_held_key(
    ports: Ports,
) -> None:
    ports.content.claim_inflight("k", "job-a", Lane.INTERACTIVE, NOW, hold_seconds=600)
    assert ports.content.acquire_lease("k", "job-a", "worker-1", NOW, lease_seconds=300, unless_cached=True)
    with pytest.raises(LeaseHeld):  # the content's check passes, the marker's does not
        ports.content.acquire_lease("k", "job-a", "worker-2", NOW + 1, lease_seconds=300, unless_cached=True)
    ports.content.put_content(_content("k"))
    ports.content.end_lease("k", "worker-1")
    # A later delivery (the marker free again) is told the key has content, and leases nothing
    ports.content.claim_inflight("k", "job-b", Lane.INTERACTIVE, NOW + 2, hold_seconds=600)
    assert not ports.content.acquire_lease("k", "job-b", "worker-3", NOW + 2, lease_seconds=300, unless_cached=True)
    marker = ports.content.get_inflight("k", NOW + 2)
    assert marker is not None and (marker.job_id, marker.state) == ("job-b", "queued")
    # Content past its expiry does not count: the lease is taken
    ports.content.put_content(_content("k", expires_at=NOW + 3))
    assert ports.content.acquire_lease("k", "job-b", "worker-3", NOW + 3, lease_seconds=300, unless_cached=True)


def test_one_worker_holds_the_lease_until_it_ends_requeues_or_lets_it_lapse(ports: Ports) -> None:
    ports.content.claim_inflight("k", "job-a", Lane.INTERACTIVE, NOW, hold_seconds=600)
    ports.content.acquire_lease("k", "job-a", "worker-1", NOW, lease_seconds=300)
    ports.content.acquire_lease("k", "job-a", "worker-1", NOW + 1, lease_seconds=300)  # its own: renewed
    with pytest.raises(LeaseHeld):
        ports.content.acquire_lease("k", "job-a", "worker-2", NOW + 2, lease_seconds=300)
    # A lapsed lease (a crashed worker) is free again
    ports.content.acquire_lease("k", "job-a", "worker-2", NOW + 302, lease_seconds=300)
    # Ending or requeueing someone else's lease changes nothing
    ports.content.end_lease("k", "worker-1")
    ports.content.requeue_lease("k", "worker-1")
    with pytest.raises(LeaseHeld):
        ports.content.acquire_lease("k", "job-a", "worker-3", NOW + 303, lease_seconds=300)
    # Requeued by its holder, the key is free for the next delivery; ended, it is gone
    ports.content.requeue_lease("k", "worker-2")
    ports.content.acquire_lease("k", "job-a", "worker-3", NOW + 304, lease_seconds=300)
    ports.content.end_lease("k", "worker-3")
    assert ports.content.get_inflight("k", NOW + 305) is None


def test_a_done_job_stays_done_and_a_deleted_one_is_gone(ports: Ports) -> None:
    ports.jobs.put_job(_job())
    ports.jobs.set_status("j1", JobStatus.GENERATING, NOW + 1, attempts=1)
    ports.jobs.set_status("j1", JobStatus.DONE, NOW + 2)
    ports.jobs.set_status("j1", JobStatus.FAILED, NOW + 3, reason="a late duplicate failed")
    got = ports.jobs.get_job("j1")
    assert got is not None
    assert (got.status, got.attempts, got.reason, got.updated_at) == (JobStatus.DONE, 1, None, NOW + 2)
    ports.jobs.set_status("missing", JobStatus.FAILED, NOW)  # no such job: nothing is created
    assert ports.jobs.get_job("missing") is None
    ports.jobs.delete_job("j1")
    assert ports.jobs.get_job("j1") is None


def test_a_job_is_claimed_for_one_batch_at_a_time_and_never_again_once_in_one(ports: Ports) -> None:
    ports.jobs.put_job(_job())
    # The first claim wins; another, while it runs, loses and learns until when it is held
    assert ports.jobs.claim_for_batch("j1", "a", NOW, NOW + 30).won
    lost = ports.jobs.claim_for_batch("j1", "b", NOW + 1, NOW + 31)
    assert (lost.won, lost.held_until, lost.batch_id) == (False, NOW + 30, None)
    assert lost.job is not None and lost.job.job_id == "j1"
    # An expired claim is taken over; a release by someone else changes nothing, by its owner frees the job
    assert ports.jobs.claim_for_batch("j1", "b", NOW + 31, NOW + 61).won
    ports.jobs.release_batch_claim("j1", "a")
    assert not ports.jobs.claim_for_batch("j1", "c", NOW + 32, NOW + 62).won
    ports.jobs.release_batch_claim("j1", "b")
    assert ports.jobs.claim_for_batch("j1", "c", NOW + 32, NOW + 62).won
    # Once its batch is recorded no one claims it, however late, and the record says which batch
    ports.jobs.record_batch("j1", "batch-1", NOW + 33, reason="in message batch batch-1", hold_until=NOW + 90_000)
    late = ports.jobs.claim_for_batch("j1", "d", NOW + 10**6, NOW + 10**6 + 30)
    assert (late.won, late.batch_id) == (False, "batch-1")
    got = ports.jobs.get_job("j1")
    assert got is not None and (got.status, got.reason) == (JobStatus.QUEUED, "in message batch batch-1")
    # A done or generating job, and a missing one, are not claimed
    ports.jobs.put_job(_job("j2"))
    ports.jobs.set_status("j2", JobStatus.GENERATING, NOW)
    assert not ports.jobs.claim_for_batch("j2", "a", NOW, NOW + 30).won
    ports.jobs.set_status("j2", JobStatus.DONE, NOW)
    done = ports.jobs.claim_for_batch("j2", "a", NOW, NOW + 30)
    assert not done.won and done.job is not None and done.job.status is JobStatus.DONE
    missing = ports.jobs.claim_for_batch("missing", "a", NOW, NOW + 30)
    assert (missing.won, missing.job) == (False, None)
    assert ports.jobs.get_job("missing") is None


def test_counters_add_up_per_day_and_only_stored_days_come_back(ports: Ports) -> None:
    ports.counters.add("2030-01-01", {"generated#lesson": 2, "cost_usd#lesson": 0.25}, NOW)
    ports.counters.add("2030-01-01", {"generated#lesson": 1, "cost_usd#lesson": 0.5}, NOW)
    ports.counters.add("2030-01-03", {"misses#lesson": 4}, NOW)
    read = ports.counters.read_days(["2030-01-01", "2030-01-02", "2030-01-03"])
    assert read == {
        "2030-01-01": {"generated#lesson": 3, "cost_usd#lesson": 0.75},
        "2030-01-03": {"misses#lesson": 4},
    }


def test_a_days_other_items_and_the_gauges_are_kept_apart_from_its_totals(ports: Ports) -> None:
    ports.counters.add_learner("ann", "2030-01-01", {"cost_usd": 0.5}, NOW)
    ports.counters.add_learner("ann", "2030-01-01", {"cost_usd": 0.25}, NOW)
    ports.counters.add_gauges({"users_total": 3}, NOW)
    ports.counters.add_gauges({"users_total": -1}, NOW)
    assert ports.counters.read_days(["2030-01-01"]) == {}  # the learner's item is not the day's totals
    assert ports.counters.read_gauges() == {"users_total": 2}


def test_a_batch_of_day_counts_is_added_exactly_once(ports: Ports) -> None:
    per_day: dict[str, dict[str, int | float]] = {"2030-01-01": {"hits#lesson": 2}, "2030-01-02": {"hits#lesson": 1}}
    assert ports.counters.add_once("b1", per_day, NOW)
    assert not ports.counters.add_once("b1", per_day, NOW)  # delivered again
    assert ports.counters.add_once("b2", {"2030-01-01": {"hits#lesson": 5}}, NOW)
    assert ports.counters.read_days(["2030-01-01", "2030-01-02"]) == {
        "2030-01-01": {"hits#lesson": 7},
        "2030-01-02": {"hits#lesson": 1},
    }


def test_an_attempt_adds_its_calls_and_sets_or_clears_the_next_one(ports: Ports) -> None:
    ports.jobs.put_job(_job())
    assert ports.jobs.record_attempt("j1", {"n": 1}, calls=2, now=NOW + 1, next_attempt_at=NOW + 60) == 2
    assert ports.jobs.record_attempt("j1", {"n": 2}, calls=3, now=NOW + 2) == 5
    got = ports.jobs.get_job("j1")
    assert got is not None
    assert (got.model_calls, got.history, got.next_attempt_at) == (5, [{"n": 1}, {"n": 2}], None)
    assert ports.jobs.record_attempt("gone", {"n": 1}, calls=1, now=NOW) == 0  # a job that is gone: nothing
    assert ports.jobs.get_job("gone") is None


def test_a_job_marked_done_with_its_attempt_records_both_in_one_write(ports: Ports) -> None:
    ports.jobs.put_job(_job())
    ports.jobs.record_attempt("j1", {"n": 1}, calls=2, now=NOW + 1, next_attempt_at=NOW + 60)
    ports.jobs.set_status("j1", JobStatus.DONE, NOW + 2, attempt=({"n": 2}, 3))
    got = ports.jobs.get_job("j1")
    assert got is not None
    assert (got.status, got.model_calls, got.history, got.next_attempt_at) == (
        JobStatus.DONE,
        5,
        [{"n": 1}, {"n": 2}],
        None,
    )
    ports.jobs.set_status("gone", JobStatus.DONE, NOW, attempt=({"n": 1}, 1))  # a job that is gone: nothing
    assert ports.jobs.get_job("gone") is None


def test_transitions_count_visits_and_reached_pairs_per_scope(ports: Ports) -> None:
    ports.transitions.record("nav#9#math", "a", [("a", "b")], NOW)
    ports.transitions.record("nav#9#math", "a", [("a", "b"), ("a", "c")], NOW)
    ports.transitions.record("nav#9#math", None, [("b", "c")], NOW)  # reached without a counted visit
    ports.transitions.record("nav#10#math", "z", [], NOW)  # another scope
    assert ports.transitions.read("nav#9#math") == {
        "a": TransitionCounts(visits=2, reached={"b": 2, "c": 1}),
        "b": TransitionCounts(visits=0, reached={"c": 1}),
    }
    assert ports.transitions.read("nav#8#math") == {}


def test_an_alias_reads_back_until_it_expires_and_is_deleted_once(ports: Ports) -> None:
    ports.near.put_alias("wording", "target", "same words", NOW, NOW + 60)
    assert ports.near.get_alias("wording", NOW + 59) == "target"
    assert ports.near.get_alias("wording", NOW + 60) is None
    assert ports.near.get_alias("other", NOW) is None
    assert ports.near.delete_alias("wording") is True
    assert ports.near.delete_alias("wording") is False


def test_a_buckets_live_entries_and_a_pairs_verdict_read_back(ports: Ports) -> None:
    ports.near.add_entry("lesson-b1", IndexEntry("k1", "biology", "photosynthesis"), NOW + 60)
    ports.near.add_entry("lesson-b1", IndexEntry("k2", "biology", None), NOW + 10)
    ports.near.add_entry("lesson-b2", IndexEntry("k3", "math", "fractions"), NOW + 60)
    assert ports.near.entries("lesson-b1", NOW + 20) == [IndexEntry("k1", "biology", "photosynthesis")]
    assert ports.near.get_verdict("w", "k1") is None
    ports.near.put_verdict("w", "k1", Verdict(False, "different words", "small", 0.0003), NOW, NOW + 60)
    assert ports.near.get_verdict("w", "k1") == Verdict(False, "different words", "small", 0.0003)


def test_a_generation_leases_a_fresh_job_in_one_write_and_finishes_it_in_another(ports: Ports) -> None:
    ports.jobs.put_job(_job("j1"))
    ports.jobs.put_job(_job("j2"))
    # a job as its claim wrote it: leased and marked; then not fresh any more, and its key held
    assert ports.writes.lease_fresh("k1", "j1", "w1", NOW, 300, attempts=1)
    leased = ports.jobs.get_job("j1")
    assert leased is not None and (leased.status, leased.leases) == (JobStatus.GENERATING, 1)  # the delivery counted
    assert not ports.writes.lease_fresh("k1", "j1", "w2", NOW + 1, 300, attempts=2)
    assert not ports.writes.lease_fresh("k1", "j2", "w3", NOW + 1, 300, attempts=1)  # held by w1
    assert ports.jobs.get_job("j2").status is JobStatus.QUEUED  # type: ignore[union-attr]
    day = "2030-03-17"
    done = FinishedGeneration(
        key="k1",
        job_id="j1",
        worker_id="w1",
        finished=NOW + 2,
        day=day,
        meta={"cost_usd": 0.01},
        attempt=({"at": NOW + 2, "outcome": "generated"}, 1),
        content=_content("k1"),
        version=None,
        near=None,
        day_counts={day: {"generated": 1}},
        learner="ann",
        learner_counts={"cost_usd": 0.01},
        started_at=NOW,
    )
    ports.writes.finish(done)
    job = ports.jobs.get_job("j1")
    assert job is not None and job.status is JobStatus.DONE and job.model_calls == 1
    assert ports.content.get_content("k1", NOW + 3) is not None
    assert ports.content.get_inflight("k1", NOW + 3) is None  # the lease ended
    assert ports.counters.read_days([day])[day]["generated"] == 1
    # the key has content now: the other job is not leased
    assert not ports.writes.lease_fresh("k1", "j2", "w3", NOW + 4, 300, attempts=1)


def test_every_delivery_that_takes_a_jobs_lease_is_counted_on_the_job(ports: Ports) -> None:
    # A delivery killed before it settled records no calls; the lease it took is on the job all the same
    ports.jobs.put_job(_job("j1"))
    assert ports.writes.lease("k1", "j1", "w1", NOW, 30, unless_cached=True, attempts=1)
    assert ports.writes.lease("k1", "j1", "w2", NOW + 31, 30, unless_cached=True, attempts=2)  # w1's lease lapsed
    job = ports.jobs.get_job("j1")
    assert job is not None and (job.leases, job.model_calls, job.history) == (2, 0, [])
    # a settled delivery's history entry stands beside its lease
    ports.jobs.record_attempt("j1", {"at": NOW + 40, "outcome": "failed"}, calls=2, now=NOW + 40)
    job = ports.jobs.get_job("j1")
    assert job is not None and (job.leases, job.model_calls, len(job.history)) == (2, 2, 1)
