"""``GET /v1/me/content`` pages across the listing's phases: a page holds ``limit`` items unless the listing ends in
it, and the cursor is null exactly at the end (the store below answers as DynamoDB does: a query that stops at its
``Limit`` names a next key even when nothing is left)."""

from __future__ import annotations

from typing import Any

import pytest

from pregen.domain.clock import FrozenClock
from pregen.domain.errors import InvalidRequest
from pregen.domain.models import Caller
from pregen.services.learners import LearnerDataDeps, Page, list_learner_data

KEY = b"k" * 32
CLOCK = FrozenClock()
LATER = CLOCK.at + 86_400
ALICE = Caller(sub="alice")


def _items(kind: str, n: int, *, expired: int = 0) -> list[dict[str, Any]]:
    fresh = [{"type": kind, "id": f"{kind}-{i}", "expires_at": LATER} for i in range(n)]
    return fresh + [{"type": kind, "id": f"{kind}-old-{i}", "expires_at": CLOCK.at - 1} for i in range(expired)]


class PhasedStore:
    """The learner's items by phase (the adapter's content, jobs, exams, courses, attempts), queried like DynamoDB;
    the exams phase has one part per exam type."""

    def __init__(self, phases: list[list[list[dict[str, Any]]]]) -> None:
        self.phases = phases
        self.queries = 0

    def page(
        self, sub: str, phase: int, part: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[int, int, dict[str, Any] | None] | None]:
        assert sub == "alice"
        self.queries += 1
        if phase >= len(self.phases):
            return [], None
        begin = int(start["i"]["N"]) if start else 0
        rows = self.phases[phase][part]
        taken = rows[begin : begin + limit]
        if len(taken) == limit:  # DynamoDB stops at Limit and names the last key read
            return taken, (phase, part, {"i": {"N": str(begin + limit)}, "pk": {"S": "courses#alice"}})
        if part + 1 < len(self.phases[phase]):
            return taken, (phase, part + 1, None)
        return taken, ((phase + 1, 0, None) if phase + 1 < len(self.phases) else None)

    def erase(self, *_: object, **__: object) -> object:
        raise NotImplementedError("the listing never erases")


def _eight_of_every_kind() -> PhasedStore:
    """8 items: 2 content versions and a vote, a job, 2 exams in two exam types (and one empty), a course, an
    attempt, and 2 expired items that are not shown."""
    content = [*_items("content", 2), *_items("vote", 1, expired=1)]
    exams = [_items("exam", 1), [], _items("exam", 1, expired=1)]
    return PhasedStore([[content], [_items("job", 1)], exams, [_items("course", 1)], [_items("attempt", 1)]])


def _deps(store: PhasedStore) -> LearnerDataDeps:
    return LearnerDataDeps(data=store, queue=None, clock=CLOCK, second_pass_delay_s=0)  # type: ignore[arg-type]


def _pages(store: PhasedStore, limit: int) -> list[Page]:
    pages, cursor = [], None
    for _ in range(20):
        page = list_learner_data(ALICE, cursor, limit, _deps(store), cursor_key=KEY)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("the listing never ended")


def test_eight_items_of_every_kind_come_in_one_page_with_a_null_cursor() -> None:
    store = _eight_of_every_kind()
    pages = _pages(store, 50)
    assert len(pages) == 1
    kinds = [i["type"] for i in pages[0].items]
    assert kinds == ["content", "content", "vote", "job", "exam", "exam", "course", "attempt"]
    assert pages[0].next_cursor is None


def test_a_small_limit_gives_full_pages_and_a_null_cursor_at_the_end() -> None:
    store = _eight_of_every_kind()
    everything = _pages(store, 50)[0].items
    pages = _pages(store, 3)
    assert [len(p.items) for p in pages] == [3, 3, 2]
    assert [i for p in pages for i in p.items] == everything
    assert [p.next_cursor is None for p in pages] == [False, False, True]


def test_a_listing_that_ends_on_a_full_page_has_a_null_cursor_there() -> None:
    store = PhasedStore([[_items("content", 3)], [[]], [[]], [[]], [_items("attempt", 3)]])
    pages = _pages(store, 3)
    assert [len(p.items) for p in pages] == [3, 3]
    assert pages[-1].next_cursor is None


def test_an_edited_cursor_is_still_refused() -> None:
    store = _eight_of_every_kind()
    cursor = _pages(store, 3)[0].next_cursor
    assert cursor
    edited = cursor[:-1] + ("B" if cursor[-1] == "A" else "A")
    with pytest.raises(InvalidRequest, match="next_cursor"):
        list_learner_data(ALICE, edited, 3, _deps(store), cursor_key=KEY)
    with pytest.raises(InvalidRequest):
        list_learner_data(Caller(sub="bob"), cursor, 3, _deps(store), cursor_key=KEY)
