"""pregen.parallel.side_by_side: independent writes go out at once, every one is tried, the first failure is raised."""

from __future__ import annotations

import threading

import pytest

from pregen.parallel import side_by_side


def test_the_calls_run_at_the_same_time() -> None:
    # Each call waits for the other: one after the other, the barrier would time out.
    barrier = threading.Barrier(3, timeout=5)
    met: list[int] = []

    def meet(i: int) -> None:
        barrier.wait()
        met.append(i)

    side_by_side(lambda: meet(1), lambda: meet(2), lambda: meet(3))
    assert sorted(met) == [1, 2, 3]


def test_every_call_is_tried_and_the_first_failure_in_order_is_raised() -> None:
    done: list[str] = []

    def fails(label: str) -> None:
        raise RuntimeError(label)

    with pytest.raises(RuntimeError, match="first"):
        side_by_side(lambda: fails("first"), lambda: done.append("middle"), lambda: fails("last"))
    assert done == ["middle"]


def test_one_call_runs_in_the_callers_thread() -> None:
    threads: list[str] = []
    side_by_side(lambda: threads.append(threading.current_thread().name))
    assert threads == [threading.current_thread().name]
