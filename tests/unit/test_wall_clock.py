"""The wall-clock guard (tests/wall_clock.py): who reads the clock is seen, and the moved-clock reruns cover them."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pregen.domain.clock import FrozenClock, SystemClock
from tests import wall_clock

ROOT = Path(__file__).resolve().parents[2]
pytest_plugins = ["pytester"]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> wall_clock.Reads:
    """A Reads of this test's own, so what it provokes is not laid at its own door by the session's guard."""
    own = wall_clock.Reads()
    own.active = True
    monkeypatch.setattr(wall_clock, "READS", own)
    return own


@pytest.mark.parametrize(
    "read",
    [
        time.time,
        time.time_ns,
        lambda: dt.datetime.now(tz=dt.UTC),
        dt.date.today,
        time.gmtime,
        lambda: time.strftime("%Y"),
        lambda: SystemClock().now(),
    ],
    ids=["time", "time_ns", "datetime.now", "date.today", "gmtime", "strftime", "SystemClock"],
)
def test_each_way_of_reading_the_clock_is_seen_where_our_code_reads(reads: wall_clock.Reads, read: object) -> None:
    assert callable(read)
    read()
    [site] = reads.take()
    # SystemClock reads in pregen's clock module; the others in this file, at the call (a lambda or read() above)
    assert site.startswith(("tests/unit/test_wall_clock.py:", "layers/core/pregen/domain/clock.py:")), site


def test_a_clock_the_test_controls_and_a_librarys_reads_are_not_ours(reads: wall_clock.Reads) -> None:
    FrozenClock().now()
    time.gmtime(0.0)  # a given time is no read
    dt.datetime.fromtimestamp(1_800_000_000, tz=dt.UTC)
    import logging

    logging.getLogger("wall-clock-test").warning("a log record reads time_ns in logging, not here")
    assert reads.take() == set()


def test_starting_a_process_counts_as_reading_the_clock(reads: wall_clock.Reads) -> None:
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert reads.take() == {"started a process"}


def test_nothing_is_noted_between_tests(reads: wall_clock.Reads) -> None:
    reads.active = False
    time.time()
    assert reads.take() == set()


def test_the_central_list_names_tests_that_exist_and_marks_by_module_or_test() -> None:
    listed = wall_clock.central_list()
    assert listed, "tests/wall_clock_tests.txt lists no test"
    for entry in listed:
        assert entry.startswith(wall_clock.RERUN_TIERS), f"{entry}: only the rerun tiers are rerun"
        where = ROOT / entry.split("::", 1)[0]
        assert where.is_dir() if entry.endswith("/") else where.is_file(), f"{entry}: no such test folder or module"
    assert wall_clock.marked_centrally("tests/unit/test_a.py::test_b[x]", ["tests/unit/test_a.py"])
    assert wall_clock.marked_centrally("tests/unit/test_a.py::test_b[x]", ["tests/unit/test_a.py::test_b"])
    assert not wall_clock.marked_centrally("tests/unit/test_ab.py::test_b", ["tests/unit/test_a"])
    assert not wall_clock.marked_centrally("tests/unit/test_a.py::test_bc", ["tests/unit/test_a.py::test_b"])
    assert wall_clock.marked_centrally("tests/unit/test_a.py::test_b", ["tests/unit/"])


def test_both_moved_clock_reruns_run_the_marked_tests_of_the_guarded_tiers() -> None:
    makefile = (ROOT / "Makefile").read_text()

    def recipe(target: str) -> str:
        return makefile.split(f"\n{target}:", 1)[1].split("\n\n", 1)[0]

    # make test runs both (two at a time with the integration tier), and so does make moved-clock
    reruns = ("moved-clock-ahead", "moved-clock-year-end")
    assert "suites" in recipe("test").splitlines()[0].split()
    for target in ("suites", "moved-clock"):
        assert all(rerun in recipe(target).split() for rerun in reruns), recipe(target)
    runs = [line for target in reruns for line in recipe(target).splitlines() if "PREGEN_TEST_CLOCK=" in line]
    assert len(runs) == 2, runs
    assert len({run.split()[0] for run in runs}) == 2, runs  # two different clocks
    for run in runs:
        assert re.search(r"-m\s+wall_clock\b", run), run
        tiers = re.findall(r"\btests/\w+", run)
        assert sorted(f"{tier}/" for tier in tiers) == sorted(wall_clock.RERUN_TIERS), run


GUARDED = """
from tests import wall_clock

def pytest_configure(config):
    config.pluginmanager.register(wall_clock.Guard(None), "wall_clock_guard")
"""


def test_an_unmarked_test_that_reads_the_clock_fails_and_says_mark_it(
    pytester: pytest.Pytester, reads: wall_clock.Reads, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The guard holds in the rerun tiers only: the inner run's files are named as if they were there.
    monkeypatch.setattr(wall_clock, "RERUN_TIERS", ("test_",))
    pytester.makeconftest(GUARDED)
    pytester.makepyfile(
        test_reader="""
        import pytest
        from pregen.domain.clock import FrozenClock, SystemClock

        def test_reads():
            SystemClock().now()

        @pytest.mark.wall_clock
        def test_reads_and_is_marked():
            SystemClock().now()

        def test_controls_its_clock():
            FrozenClock().now()
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        ["*test_reads reads the wall clock (layers/core/pregen/domain/clock.py:*mark it wall_clock*"]
    )
