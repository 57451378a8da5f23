"""Independent requests side by side.

After a generation is published, the worker's remaining writes (the job done, the lease ended, the day's counters)
touch different items and depend on nothing but the publish: one after another they cost a round trip each on the
worker's clock, side by side about one. A pre-generation batch's keys are as independent: each is read, claimed and
enqueued by itself (``each``). The standard library's thread pool does it; the pools are made on first use (never
before a SnapStart snapshot) and kept by the warm environment.
"""

from __future__ import annotations

import functools
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

A = TypeVar("A")
B = TypeVar("B")
T = TypeVar("T")

_MAX_SIDE_BY_SIDE = 8  # within botocore's default pool of 10 connections per client


@functools.cache  # an invocation calls it from its one thread: made once per environment
def _executor() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_MAX_SIDE_BY_SIDE, thread_name_prefix="side-by-side")


def side_by_side(*calls: Callable[[], object]) -> None:
    """Run every call at once and wait for all of them; then raise the first failure, in the order given. Every
    call is tried whatever the others do, as if each had been made on its own."""
    if len(calls) <= 1:
        for call in calls:
            call()
        return
    futures = [_executor().submit(call) for call in calls]
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        raise errors[0]


def both(first: Callable[[], A], second: Callable[[], B]) -> tuple[A, B]:
    """Two independent reads at once; their answers in order (the first failure raised, after both ran)."""
    later = _executor().submit(second)
    try:
        answer = first()
    finally:
        wait = later.exception()
    if wait is not None:
        raise wait
    return answer, later.result()


def in_background(call: Callable[[], A]) -> Future[A]:
    """Start ``call`` now and go on; ``.result()`` waits for it (and raises what it raised)."""
    return _executor().submit(call)


@functools.cache
def _each_executor() -> ThreadPoolExecutor:
    # Its own pool: a call made by ``each`` may use ``side_by_side`` without waiting on its own caller's threads.
    return ThreadPoolExecutor(max_workers=_MAX_SIDE_BY_SIDE, thread_name_prefix="each")


def each(call: Callable[[T], A], items: Sequence[T], *, at_once: bool = True) -> list[A]:
    """``call`` on every item, up to 8 at a time (``at_once=False``: one after another, in order); the answers in
    the items' order. Every item is tried whatever the others do; then the first failure, in the items' order, is
    raised."""
    if not at_once or len(items) <= 1:
        futures: list[Future[A]] = []
        for item in items:
            done: Future[A] = Future()
            try:
                done.set_result(call(item))
            except Exception as exc:  # kept, and raised after the others have been tried
                done.set_exception(exc)
            futures.append(done)
    else:
        futures = [_each_executor().submit(call, item) for item in items]
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        raise errors[0]
    return [future.result() for future in futures]
