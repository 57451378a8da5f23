"""pregen.parallel.side_by_side: independent writes go out at once, every one is tried, the first failure is raised."""

from __future__ import annotations

import threading

import pytest

from pregen.parallel import both, in_background, side_by_side


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


def test_both_reads_at_once_and_answers_in_order() -> None:
    barrier = threading.Barrier(2, timeout=5)

    def read(answer: str) -> str:
        barrier.wait()
        return answer

    assert both(lambda: read("job"), lambda: read("content")) == ("job", "content")


def test_both_raises_after_both_ran() -> None:
    ran: list[str] = []

    def fails() -> str:
        raise LookupError("the first read failed")

    def second() -> str:
        ran.append("second")
        return "ok"

    with pytest.raises(LookupError):
        both(fails, second)
    assert ran == ["second"]


def test_in_background_goes_on_and_its_result_waits() -> None:
    release = threading.Event()
    future = in_background(lambda: release.wait(5) and "landed")
    assert not future.done()
    release.set()
    assert future.result(timeout=5) == "landed"
