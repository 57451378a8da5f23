"""A miss on the in-memory ports: the claim, the charge after it, and the sends in batches (SendMessageBatch takes
10), with what is undone when the charge is refused or a message is not sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pregen.domain.clock import FrozenClock
from pregen.domain.errors import RateLimited
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest, Job, JobStatus, Lane, Priority, Role
from pregen.domain.records import StoredContent
from pregen.services.content import ServeDeps, enqueue_or_join, pregenerate
from pregen_fakes.memory import MemoryContentStore, MemoryCounters, MemoryJobStore, MemoryKeyClaims

NOW = 1_900_000_000.0
TEACHER = Caller(sub="t1", role=Role.TEACHER)


@dataclass
class BatchQueue:
    """Records each request: ``("send", 1)`` or ``("batch", n)``; the messages at ``refuse`` are not taken."""

    requests: list[tuple[str, int]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)

    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.requests.append(("send", 1))
        self.sent.append(message)

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        self.requests.append(("batch", len(messages)))
        self.sent += [m for i, m in enumerate(messages) if i not in self.refuse]
        return sorted(self.refuse & set(range(len(messages))))


def _deps(queue: BatchQueue) -> ServeDeps:
    clock = FrozenClock(NOW)
    content, jobs = MemoryContentStore(clock), MemoryJobStore()
    return ServeDeps(
        store=content,
        jobs=jobs,
        claims=MemoryKeyClaims(content, jobs),
        queue=queue,  # type: ignore[arg-type]
        counters=MemoryCounters(),
        clock=clock,
    )


def _lessons(n: int) -> list[ContentRequest]:
    return [ContentRequest(kind="lesson", subject="Physics", topic=f"topic {i}", grade="9") for i in range(n)]


def test_a_pregenerated_batch_is_sent_ten_messages_a_request() -> None:
    queue = BatchQueue()
    deps = _deps(queue)
    results = pregenerate(_lessons(23), Priority.DEFAULT, TEACHER, deps, charge_to=None)
    assert [r.status for r in results] == ["queued"] * 23
    assert queue.requests == [("batch", 10), ("batch", 10), ("batch", 3)]
    assert sorted(m["job_id"] for m in queue.sent) == sorted(str(r.job_id) for r in results)


def test_a_message_not_sent_abandons_its_job_only() -> None:
    queue = BatchQueue(refuse={1})
    deps = _deps(queue)
    requests = _lessons(3)
    with pytest.raises(RuntimeError, match="1 of 3 jobs"):
        pregenerate(requests, Priority.DEFAULT, TEACHER, deps, charge_to=None)
    keys = [cache_key(r, TEACHER) for r in requests]
    markers = [deps.store.get_inflight(k, NOW) for k in keys]
    # The unsent key is released (a later miss claims it again) and its job failed; the others stay in flight
    assert markers[1] is None and markers[0] is not None and markers[2] is not None
    assert isinstance(deps.jobs, MemoryJobStore)
    unsent = next(j for j in deps.jobs.jobs.values() if j.key == keys[1])
    assert (unsent.status, unsent.reason) == (JobStatus.FAILED, "could not enqueue the job")
    assert markers[0] is not None and markers[2] is not None
    assert {markers[0].job_id, markers[2].job_id} == {m["job_id"] for m in queue.sent}


def test_only_the_miss_that_wins_the_key_is_charged_and_a_refusal_releases_it() -> None:
    queue = BatchQueue()
    deps = _deps(queue)
    request = _lessons(1)[0]
    charged: list[str] = []

    def charge(sub: str) -> Any:
        return lambda: charged.append(sub)

    first, joined_first = enqueue_or_join(request, Caller(sub="a"), Priority.DEFAULT, deps, charge=charge("a"))
    second, joined_second = enqueue_or_join(request, Caller(sub="b"), Priority.DEFAULT, deps, charge=charge("b"))
    assert isinstance(first, Job) and second is not None and second.job_id == first.job_id
    assert (joined_first, joined_second, charged) == (False, True, ["a"])
    assert queue.requests == [("send", 1)]

    # A refused charge: the key is released, the job failed, nothing sent, the refusal raised
    other = _lessons(2)[1]

    def refuse() -> None:
        raise RateLimited("learner.minute", allowed=1, window_seconds=60, retry_after=30, action="miss", cost=2)

    with pytest.raises(RateLimited):
        enqueue_or_join(other, Caller(sub="c"), Priority.DEFAULT, deps, charge=refuse)
    key = cache_key(other, Caller(sub="c"))
    assert deps.store.get_inflight(key, NOW) is None
    assert isinstance(deps.jobs, MemoryJobStore)
    refused = next(j for j in deps.jobs.jobs.values() if j.key == key)
    assert refused.status is JobStatus.FAILED and refused.reason == "not charged: RateLimited"
    assert queue.requests == [("send", 1)]
    # and the next miss of that key claims it afresh
    again, joined = enqueue_or_join(other, Caller(sub="c"), Priority.DEFAULT, deps)
    assert isinstance(again, Job) and not joined and again.job_id != refused.job_id


def test_a_miss_on_a_key_whose_content_was_just_stored_writes_nothing_and_is_told_so() -> None:
    deps = _deps(BatchQueue())
    request = _lessons(1)[0]
    key = cache_key(request, TEACHER)
    deps.store.put_content(StoredContent(key, "lesson", {"title": "t"}, {}, None, NOW, NOW + 3600))
    assert enqueue_or_join(request, TEACHER, Priority.DEFAULT, deps) == (None, False)
    assert deps.store.get_inflight(key, NOW) is None
    assert isinstance(deps.jobs, MemoryJobStore) and deps.jobs.jobs == {}
