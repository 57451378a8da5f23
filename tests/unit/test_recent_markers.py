"""A joined miss in an environment that saw the key's marker a moment ago: the content's read and nothing else
(pregen.services.recent_markers), on the in-memory ports, counting the requests each port would make."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from pregen import usage_log
from pregen.domain.clock import FrozenClock
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest, JobRef, JobStatus, Lane, Priority, Role, Scope
from pregen.domain.records import InflightClaim, StoredContent
from pregen.services.content import Hit, Pending, ServeDeps, pregenerate, serve_content
from pregen.services.recent_markers import RecentMarkers
from pregen_fakes.memory import MemoryContentStore, MemoryCounters, MemoryJobStore, MemoryKeyClaims

NOW = 1_900_000_000.0
LESSON = ContentRequest(kind="lesson", subject="Physics", topic="Optics", grade="9")
WINDOW = 2.0


class Counted:
    """A port whose calls are recorded as the requests they would make (each call: one request)."""

    def __init__(self, inner: Any, requests: list[str]) -> None:
        self._inner, self._requests = inner, requests

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._requests.append(name)
            return attr(*args, **kwargs)

        return counted


@dataclass
class Queue:
    sent: list[tuple[Lane, dict[str, Any]]] = field(default_factory=list)

    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.sent.append((lane, message))

    def send_batch(self, lane: Lane, messages: list[dict[str, Any]]) -> list[int]:
        self.sent += [(lane, m) for m in messages]
        return []


@dataclass
class World:
    """The shared tables and queue, and the clock; each ``environment()`` is one execution environment's ports."""

    clock: FrozenClock = field(default_factory=lambda: FrozenClock(NOW))
    queue: Queue = field(default_factory=Queue)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.content = MemoryContentStore(self.clock)
        self.jobs = MemoryJobStore()
        self.claims = MemoryKeyClaims(self.content, self.jobs)

    def environment(self, seconds: float = WINDOW) -> ServeDeps:
        return ServeDeps(
            store=Counted(self.content, self.requests),  # type: ignore[arg-type]
            jobs=Counted(self.jobs, self.requests),  # type: ignore[arg-type]
            claims=Counted(self.claims, self.requests),  # type: ignore[arg-type]
            queue=self.queue,  # type: ignore[arg-type]
            counters=MemoryCounters(),
            clock=self.clock,
            recent=RecentMarkers(seconds=seconds) if seconds else None,
        )

    def miss(self, deps: ServeDeps, sub: str, request: ContentRequest = LESSON) -> tuple[Hit | Pending, list[str]]:
        self.requests.clear()
        out = serve_content(request, Caller(sub=sub), deps)
        return out, list(self.requests)

    def store(self, key: str) -> None:
        self.content.put_content(StoredContent(key, "lesson", {"title": "t"}, {}, None, NOW, NOW + 86_400))


@pytest.fixture
def misses() -> Any:
    lines: list[str] = []
    previous = usage_log.set_sink(lines.append)
    yield lines
    usage_log.set_sink(previous)


def _missed(lines: list[str]) -> int:
    return sum('"usage":"miss"' in line for line in lines)


def test_the_second_joined_miss_in_an_environment_is_one_request_and_counted_once(misses: list[str]) -> None:
    world = World()
    a, b = world.environment(), world.environment()
    won, won_requests = world.miss(a, "ann")
    assert isinstance(won, Pending) and not won.joined and won_requests == ["get_content", "claim"]
    # Given another environment that has not seen the key: its first joined miss claims and is cancelled
    first, first_requests = world.miss(b, "bob")
    assert isinstance(first, Pending) and first.joined and first.job.job_id == won.job.job_id
    assert first_requests == ["get_content", "claim"]
    # When it misses the key again a second later: the content's read alone, the same job, no message, no charge
    world.clock.advance(1)
    again, again_requests = world.miss(b, "cat")
    assert again_requests == ["get_content"]
    assert (
        isinstance(again, Pending) and again.joined and again.job == JobRef(won.job.job_id, won.key, JobStatus.QUEUED)
    )
    # and the environment that won the key joins from what it wrote
    own, own_requests = world.miss(a, "dan")
    assert own_requests == ["get_content"] and isinstance(own, Pending) and own.job.job_id == won.job.job_id
    assert len(world.queue.sent) == 1
    # Every miss is counted once, joined from memory or not
    assert _missed(misses) == 4


def test_content_stored_inside_the_window_is_served() -> None:
    world = World()
    deps = world.environment()
    won, _ = world.miss(deps, "ann")
    world.store(won.key)
    world.clock.advance(0.5)
    served, requests = world.miss(deps, "bob")
    assert isinstance(served, Hit) and served.key == won.key
    assert requests == ["get_content"]


def test_a_marker_seen_longer_ago_than_the_window_goes_the_full_way() -> None:
    world = World()
    deps = world.environment()
    won, _ = world.miss(deps, "ann")
    world.clock.advance(WINDOW)
    joined, requests = world.miss(deps, "bob")
    assert requests == ["get_content", "claim"]
    assert isinstance(joined, Pending) and joined.joined and joined.job.job_id == won.job.job_id
    # the cancelled claim taught it the marker again: the next miss is one request
    assert world.miss(deps, "cat")[1] == ["get_content"]


def test_a_job_released_inside_the_window_is_still_joined_and_a_new_one_claimed_after_it() -> None:
    world = World()
    deps = world.environment()
    won, _ = world.miss(deps, "ann")
    # The worker fails the job for good and releases its marker (another process: this environment is not told)
    world.content.release_inflight(won.key, won.job.job_id)
    world.clock.advance(1)
    stale, requests = world.miss(deps, "bob")
    assert requests == ["get_content"] and isinstance(stale, Pending) and stale.job.job_id == won.job.job_id
    # past the window the key is claimed afresh
    world.clock.advance(WINDOW)
    fresh, requests = world.miss(deps, "cat")
    assert isinstance(fresh, Pending) and not fresh.joined and fresh.job.job_id != won.job.job_id
    assert requests == ["get_content", "claim"]


def test_a_marker_is_never_believed_past_its_own_expiry() -> None:
    world = World()
    won, _ = world.miss(world.environment(), "ann")
    # A worker took the lease until 1 s from now: the marker expires then unless the worker renews it
    assert world.content.acquire_lease(won.key, won.job.job_id, "w1", NOW, 1)
    deps = world.environment()
    joined, requests = world.miss(deps, "bob")
    assert requests == ["get_content", "claim"]
    assert isinstance(joined, Pending) and joined.job.status is JobStatus.GENERATING
    world.clock.advance(0.5)
    assert world.miss(deps, "cat")[1] == ["get_content"]  # inside the window and the marker's hold
    world.clock.advance(0.6)  # the hold ended before the window does: the worker is presumed gone
    taken, requests = world.miss(deps, "dan")
    assert requests[:2] == ["get_content", "claim"]
    assert isinstance(taken, Pending) and not taken.joined and taken.job.job_id != won.job.job_id


def test_a_miss_that_must_promote_the_job_goes_the_full_way() -> None:
    world = World()
    deps = world.environment()
    teacher = Caller(sub="t1", role=Role.TEACHER)
    queued = pregenerate([LESSON], Priority.WARMING, teacher, deps, charge_to=None)
    key = cache_key(LESSON, teacher)
    assert [r.status for r in queued] == ["queued"] and len(world.queue.sent) == 1
    promoted, requests = world.miss(deps, "ann")
    assert "claim" in requests and isinstance(promoted, Pending) and promoted.joined
    assert [lane for lane, _ in world.queue.sent] == [Lane.BACKGROUND, Lane.INTERACTIVE]
    marker = world.content.get_inflight(key, NOW)
    assert marker is not None and marker.lane == Lane.INTERACTIVE.value


def test_pregenerate_joins_keys_its_environment_saw_from_memory() -> None:
    world = World()
    deps = world.environment()
    teacher = Caller(sub="t1", role=Role.TEACHER)
    lessons = [LESSON.model_copy(update={"topic": f"topic {i}"}) for i in range(3)]
    first = pregenerate(lessons, Priority.DEFAULT, teacher, deps, charge_to=None)
    world.requests.clear()
    again = pregenerate(lessons, Priority.DEFAULT, teacher, deps, charge_to=None)
    assert [r.status for r in again] == ["in_flight"] * 3
    assert [r.job_id for r in again] == [r.job_id for r in first]
    assert world.requests == ["get_content"] * 3


def test_personal_keys_are_never_joined_from_memory() -> None:
    world = World()
    deps = world.environment()
    mine = LESSON.model_copy(update={"scope": Scope.PERSONAL})
    world.miss(deps, "ann", mine)
    _, requests = world.miss(deps, "ann", mine)
    assert requests == ["get_content", "claim"]
    assert deps.recent is not None and len(deps.recent) == 0


def test_a_job_abandoned_by_its_environment_is_forgotten() -> None:
    world = World()
    deps = world.environment()
    teacher = Caller(sub="t1", role=Role.TEACHER)
    world.queue.send_batch = lambda lane, messages: list(range(len(messages)))  # type: ignore[method-assign]
    lessons = [LESSON.model_copy(update={"topic": f"topic {i}"}) for i in range(2)]
    with pytest.raises(RuntimeError):
        pregenerate(lessons, Priority.DEFAULT, teacher, deps, charge_to=None)
    assert deps.recent is not None and len(deps.recent) == 0
    retried, requests = world.miss(deps, "ann", lessons[0])
    assert isinstance(retried, Pending) and not retried.joined and "claim" in requests


def test_off_every_joined_miss_claims() -> None:
    world = World()
    deps = world.environment(seconds=0)
    world.miss(deps, "ann")
    assert world.miss(deps, "bob")[1] == ["get_content", "claim"]


def test_the_memory_is_bounded_least_recently_used_out_first() -> None:
    recent = RecentMarkers(seconds=WINDOW, max_items=2)
    marker = InflightClaim(won=False, job_id="j", lane="interactive", claimed_at=NOW, expires_at=NOW + 3600)
    for key in ("a", "b"):
        recent.learn(key, marker, NOW)
    assert recent.recall("a", NOW) is not None  # "a" used: "b" is the least recent
    recent.learn("c", marker, NOW)
    assert [k for k in "abc" if recent.recall(k, NOW) is not None] == ["a", "c"]
    # a clock gone back before the learning believes nothing
    assert recent.recall("a", NOW - 1) is None
    # nor is a marker that expires before it could be used learned at all
    recent.learn("d", InflightClaim(won=False, job_id="j", lane="interactive", expires_at=NOW), NOW)
    assert recent.recall("d", NOW) is None
