"""The hot-key cache (pregen.adapters.hot_content): shared content only, bounded, short-lived, never stale past its
TTL or its content's expiry, in front of any content store; time comes from tickers and clocks the tests control."""

from __future__ import annotations

from typing import Any

from pregen.adapters.content import DynamoContentStore
from pregen.adapters.ddb import content_item
from pregen.adapters.hot_content import HotContentStore
from pregen.domain.clock import FrozenClock
from pregen.domain.models import Lane
from pregen.domain.records import StoredContent
from pregen_fakes.memory import MemoryContentStore

NOW = 1_900_000_000.0


def content(key: str, version: str, owner: str | None = None, expires_at: float = NOW + 86_400) -> StoredContent:
    return StoredContent(
        key=key,
        kind="lesson",
        body={"title": version},
        meta={"version_id": version},
        owner=owner,
        created_at=NOW,
        expires_at=expires_at,
    )


class FakeTable:
    """Answers GetItem from a dict and counts the requests."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.reads = 0

    def put(self, key: str, version: str, owner: str | None = None, expires_at: float = NOW + 86_400) -> None:
        self.items[key] = content_item(content(key, version, owner, expires_at))

    def get_item(self, **params: Any) -> dict[str, Any]:
        self.reads += 1
        item = self.items.get(params["Key"]["pk"]["S"])
        return {"Item": item} if item else {}


class Ticker:
    def __init__(self) -> None:
        self.at = 100.0

    def __call__(self) -> float:
        return self.at


def store(table: FakeTable, ticker: Ticker, *, ttl: float = 5, items: int = 3) -> HotContentStore:
    table_store = DynamoContentStore("content", table)  # type: ignore[arg-type]
    return HotContentStore(table_store, ttl_seconds=ttl, max_items=items, ticker=ticker)


def test_a_shared_item_is_read_once_per_ttl_and_a_new_version_is_seen_after_it() -> None:
    table, ticker = FakeTable(), Ticker()
    hot = store(table, ticker)
    table.put("k", "v1")
    # Given a shared item read once
    assert hot.get_content("k", NOW).meta["version_id"] == "v1"  # type: ignore[union-attr]
    # When a vote changes the served version
    table.put("k", "v2")
    # Then within the TTL the version read a moment ago is answered from memory, without a request
    ticker.at += 4.9
    assert hot.get_content("k", NOW).meta["version_id"] == "v1"  # type: ignore[union-attr]
    assert (table.reads, hot.from_memory, hot.version_of("k")) == (1, 1, "v1")
    # And once the TTL has passed the new version is read and served
    ticker.at += 0.2
    assert hot.get_content("k", NOW).meta["version_id"] == "v2"  # type: ignore[union-attr]
    assert (table.reads, hot.version_of("k")) == (2, "v2")


def test_it_works_in_front_of_any_store_and_passes_the_rest_of_the_port_through() -> None:
    # Given the in-memory store, wrapped
    memory, ticker = MemoryContentStore(FrozenClock(NOW)), Ticker()
    hot = HotContentStore(memory, ttl_seconds=5, max_items=3, ticker=ticker)
    memory.put_content(content("k", "v1"))
    # When a shared key is read, then changed underneath, within the TTL
    assert hot.get_content("k", NOW).meta["version_id"] == "v1"  # type: ignore[union-attr]
    hot.put_content(content("k", "v2"))
    # Then the remembered version is answered, while a consistent read sees the store's
    assert hot.get_content("k", NOW).meta["version_id"] == "v1"  # type: ignore[union-attr]
    assert hot.get_content("k", NOW, consistent=True).meta["version_id"] == "v2"  # type: ignore[union-attr]
    assert hot.from_memory == 1
    # And the in-flight markers are the wrapped store's: a claim through the cache is seen by the store itself
    assert hot.claim_inflight("new", "job-1", Lane.INTERACTIVE, NOW, 60).won
    assert memory.get_inflight("new", NOW).job_id == "job-1"  # type: ignore[union-attr]
    hot.release_inflight("new", "job-1")
    assert memory.get_inflight("new", NOW) is None


def test_personal_content_is_never_kept() -> None:
    table, ticker = FakeTable(), Ticker()
    hot = store(table, ticker)
    table.put("mine", "v1", owner="alice")
    for _ in range(3):
        assert hot.get_content("mine", NOW) is not None
    assert (table.reads, hot.from_memory, len(hot)) == (3, 0, 0)


def test_consistent_reads_and_misses_always_go_to_the_table() -> None:
    table, ticker = FakeTable(), Ticker()
    hot = store(table, ticker)
    # A miss is not remembered: content stored a moment later is seen at once
    assert hot.get_content("k", NOW) is None
    table.put("k", "v1")
    assert hot.get_content("k", NOW) is not None
    # A consistent read (enqueue path, worker) never answers from memory
    assert hot.get_content("k", NOW, consistent=True) is not None
    assert table.reads == 3


def test_content_past_its_expiry_is_never_served_from_memory() -> None:
    table, ticker = FakeTable(), Ticker()
    hot = store(table, ticker, ttl=60)
    table.put("k", "v1", expires_at=NOW + 10)
    assert hot.get_content("k", NOW) is not None
    # The request's clock passes the content's expiry while the entry is still young: the table decides (and the
    # table says expired: None)
    assert hot.get_content("k", NOW + 10) is None
    assert (table.reads, len(hot)) == (2, 0)


def test_the_cache_keeps_at_most_max_items_least_recently_used_out_first() -> None:
    table, ticker = FakeTable(), Ticker()
    hot = store(table, ticker, items=2)
    for key in ("a", "b", "c"):
        table.put(key, key)
    hot.get_content("a", NOW)
    hot.get_content("b", NOW)
    hot.get_content("a", NOW)  # a is now the most recent
    hot.get_content("c", NOW)  # b goes
    assert len(hot) == 2
    assert (hot.version_of("a"), hot.version_of("b"), hot.version_of("c")) == ("a", None, "c")


def test_reads_side_by_side_in_one_environment_keep_the_cache_whole() -> None:
    # A pre-generation batch reads its keys from several threads (pregen.parallel.each): entries expire, are
    # evicted and re-read under each other, and every read still answers its own key within the bound.
    import sys
    import threading

    table = FakeTable()
    keys = [f"k{i}" for i in range(30)]
    for key in keys:
        table.put(key, key)
    ticks = iter(range(10**9))
    table_store = DynamoContentStore("content", table)  # type: ignore[arg-type]
    hot = HotContentStore(table_store, ttl_seconds=3, max_items=5, ticker=lambda: float(next(ticks)))
    failures: list[BaseException] = []

    def reader(offset: int) -> None:
        try:
            for i in range(3_000):
                key = keys[(i * 7 + offset) % len(keys)]
                stored = hot.get_content(key, NOW)
                assert stored is not None
                assert stored.meta["version_id"] == key
        except BaseException as exc:
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        threads = [threading.Thread(target=reader, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert failures == []
    assert len(hot) <= 5
