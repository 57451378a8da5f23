"""Which tests read the wall clock: the moved-clock reruns (Makefile: moved-clock) run only those marked wall_clock.

A test reads the wall clock when our code (layers/, functions/, local/, bench/, tests/) reads it while the test runs,
in its set-up, body or tear-down: ``time.time``/``time_ns``, ``datetime.now``/``today``/``utcnow``, ``date.today``,
``gmtime``/``localtime``/``strftime`` without a time, and so pregen's ``SystemClock``. A test that starts a process
(a stack, a Lambda environment, DynamoDB Local, a child interpreter) counts too: what that process reads is not seen
here. An injected clock the test controls (``FrozenClock``) is no read.

How it is seen: the whole session runs inside one time-machine travel (tests/conftest.py), to the moved instant when
PREGEN_TEST_CLOCK asks for one, else to the real now, ticking. time-machine sends every one of those reads through
``Traveller.time_ns``, wrapped here to note its caller's file; a read from a library (moto, botocore, logging) is not
ours. An unmarked test that reads the clock fails at its tear-down, saying where it read and "mark it wall_clock";
PREGEN_WALL_CLOCK_SURVEY=<file> instead appends each test's reads to a file (JSON lines) and fails nothing.
"""

from __future__ import annotations

import json
import multiprocessing.process
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from types import CodeType, FrameType

MARKER = "wall_clock"
# The tiers the moved-clock reruns cover (Makefile: moved-clock names the same): the guard holds there. tests/e2e and
# tests/build start processes in every test and are not rerun.
RERUN_TIERS = ("tests/unit/", "tests/integration/", "tests/emulator/")
ROOT = Path(__file__).resolve().parents[1]
OURS = tuple(str(ROOT / folder) + os.sep for folder in ("layers", "functions", "local", "bench", "tests"))
THIS_FILE = str(Path(__file__).resolve())
# Our code standing in for a library's own reads: moto's SQS visibility checks, rewritten without datetimes
# (local/aws_emulator/moto_server.py, fix 3; the integration tier runs with it, as the local stack's server does). They
# read when and as moto's did, which is not ours.
_MOTO_FIXES = str(ROOT / "local" / "aws_emulator" / "moto_server.py")
STAND_INS = frozenset((_MOTO_FIXES, name) for name in ("visible", "delayed"))
LISTED = ROOT / "tests" / "wall_clock_tests.txt"
_STARTED_A_PROCESS = "started a process"


class Reads:
    """The reads seen while one test runs, from its main thread and the threads started since it began (a test's
    workers read for it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sites: set[str] = set()
        self.active = False
        self._ours: dict[CodeType, bool] = {}
        # Threads already running when the test started, other than the main one: a server or poller an earlier
        # test left behind reads for nobody here (counting it failed the next test at random).
        self.before: frozenset[int] = frozenset()

    def ours(self, code: CodeType) -> bool:
        found = self._ours.get(code)
        if found is None:
            name = code.co_filename
            found = (
                name.startswith(OURS)
                and name != THIS_FILE
                and f"{os.sep}.venv" not in name
                and (name, code.co_name) not in STAND_INS
            )
            self._ours[code] = found
        return found

    def start(self) -> None:
        main = threading.main_thread().ident
        self.before = frozenset(t.ident for t in threading.enumerate() if t.ident is not None and t.ident != main)
        self.take()
        self.active = True

    def note(self, frame: FrameType | None) -> None:
        if threading.get_ident() in self.before:
            return
        # Generated code (a dataclass's __init__ calling default_factory=time.time) reads for whoever called it.
        while frame is not None and frame.f_code.co_filename.startswith("<"):
            frame = frame.f_back
        if frame is None or not self.ours(frame.f_code):
            return
        site = f"{Path(frame.f_code.co_filename).relative_to(ROOT)}:{frame.f_lineno}"
        with self.lock:
            self.sites.add(site)

    def note_process(self) -> None:
        with self.lock:
            self.sites.add(_STARTED_A_PROCESS)

    def take(self) -> set[str]:
        with self.lock:
            taken, self.sites = self.sites, set()
        return taken


READS = Reads()


def install() -> None:
    """Wrap the travel's one entry point and the ways a test starts a process; once per interpreter."""
    if getattr(time_machine.Traveller.time_ns, "_wall_clock", False):
        return
    time_ns = time_machine.Traveller.time_ns

    def noting_time_ns(self: time_machine.Traveller) -> int:
        if READS.active:
            READS.note(sys._getframe(1))  # the frame that called time.time() & co. (they are C: no frame of theirs)
        return time_ns(self)

    noting_time_ns._wall_clock = True  # type: ignore[attr-defined]
    time_machine.Traveller.time_ns = noting_time_ns  # type: ignore[method-assign]

    popen_init = subprocess.Popen.__init__
    process_start = multiprocessing.process.BaseProcess.start

    def noting_popen_init(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> None:
        if READS.active:
            READS.note_process()
        popen_init(self, *args, **kwargs)

    def noting_process_start(self: multiprocessing.process.BaseProcess) -> None:
        if READS.active:
            READS.note_process()
        process_start(self)

    subprocess.Popen.__init__ = noting_popen_init  # type: ignore[method-assign]
    multiprocessing.process.BaseProcess.start = noting_process_start  # type: ignore[method-assign]


def marked_centrally(nodeid: str, listed: Iterable[str]) -> bool:
    """Whether a list entry names the test: its folder (ending in /), its module, itself, or all its parameters."""
    return any(
        nodeid.startswith(entry)
        if entry.endswith("/")
        else nodeid == entry or nodeid.startswith((f"{entry}::", f"{entry}["))
        for entry in listed
    )


def central_list(path: Path = LISTED) -> list[str]:
    """The test modules (or single tests) that read the wall clock, one a line; ``#`` starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


class Guard:
    """Per test: collect from set-up to tear-down, then fail an unmarked reader (or write the survey)."""

    def __init__(self, survey: Path | None) -> None:
        self.survey = survey

        self.listed = central_list()

    def pytest_itemcollected(self, item: pytest.Item) -> None:
        # before -m deselects: the reruns' `-m wall_clock` sees the mark
        if marked_centrally(item.nodeid, self.listed):
            item.add_marker(MARKER)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Iterator[None]:
        READS.start()
        return (yield)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
        try:
            return (yield)
        finally:
            READS.active = False
            sites = sorted(READS.take())
            if self.survey is not None:
                with self.survey.open("a") as survey:  # a line a test: a run cut short still tells what it saw
                    survey.write(json.dumps({"test": item.nodeid, "reads": sites}) + "\n")
            elif sites and item.nodeid.startswith(RERUN_TIERS) and item.get_closest_marker(MARKER) is None:
                shown = ", ".join(sites[:5]) + (f" and {len(sites) - 5} more" if len(sites) > 5 else "")
                pytest.fail(
                    f"{item.nodeid} reads the wall clock ({shown}) but is not marked: mark it {MARKER} "
                    "(module pytestmark or tests/wall_clock_tests.txt) so the moved-clock reruns cover it, "
                    "or give it a clock it controls (FrozenClock)",
                    pytrace=False,
                )
