"""pregen.parallel: independent requests go out at once, every one is tried, the first failure (in order) is raised."""

from __future__ import annotations

import threading

import pytest

from pregen.parallel import both, each, in_background, side_by_side


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


def test_each_runs_the_items_at_once_and_answers_in_their_order() -> None:
    barrier = threading.Barrier(4, timeout=5)  # one item after another, the first would wait for the others forever

    def read(key: str) -> str:
        barrier.wait()
        return key.upper()

    assert each(read, ["a", "b", "c", "d"]) == ["A", "B", "C", "D"]


def test_each_tries_every_item_and_raises_the_first_failure_in_their_order() -> None:
    tried: list[int] = []

    def enqueue(i: int) -> int:
        tried.append(i)
        if i in {2, 4}:
            raise ValueError(f"item {i}")
        return i

    for at_once in (True, False):
        tried.clear()
        with pytest.raises(ValueError, match="item 2"):
            each(enqueue, [1, 2, 3, 4, 5], at_once=at_once)
        assert sorted(tried) == [1, 2, 3, 4, 5]


def test_each_one_after_another_stays_in_the_callers_thread_and_order() -> None:
    seen: list[tuple[int, str]] = []
    each(lambda i: seen.append((i, threading.current_thread().name)), [3, 1, 2], at_once=False)
    assert seen == [(i, threading.current_thread().name) for i in (3, 1, 2)]


def test_each_may_use_side_by_side_inside_without_waiting_on_itself() -> None:
    # Eight items fill each's threads; each item's own side_by_side runs on the other pool.
    def item(i: int) -> int:
        out: list[int] = []
        side_by_side(lambda: out.append(i), lambda: out.append(i))
        return sum(out)

    assert each(item, list(range(8))) == [2 * i for i in range(8)]
