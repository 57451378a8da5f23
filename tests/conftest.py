"""Shared test set-up: fake AWS credentials so nothing can ever reach a real account, and, when asked, a process
clock moved far from today (``PREGEN_TEST_CLOCK``), so a test that depends on the calendar fails here first."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests import wall_clock

EVENTS = Path(__file__).resolve().parents[1] / "events"

# Every suite chooses its model latency (pregen.domain.model_time): the offline generator answers at once here, in
# this process and in every stack or environment it starts; a test about time sets its own (scale:F, ttft=...).
os.environ["MODEL_LATENCY"] = "instant"


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "PregenTest",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


# PREGEN_TEST_CLOCK moves the whole process's wall clock (time.time, datetime.now, ...) for the run: "+400d" from
# today, or an instant such as "2028-12-31T23:30:00Z". The clock keeps ticking from there; monotonic time is not
# moved. `make test` runs the unit and integration tiers once more each way (Makefile: moved-clock).
_SHIFT = re.compile(r"^\+(\d+)d$")
_travel: Any = None


def moved_clock_destination(value: str, today: dt.datetime) -> dt.datetime:
    """Where PREGEN_TEST_CLOCK sends the clock: days ahead of ``today``, or an ISO 8601 instant (UTC if naive)."""
    if match := _SHIFT.match(value.strip()):
        return today + dt.timedelta(days=int(match.group(1)))
    try:
        at = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise pytest.UsageError(f"PREGEN_TEST_CLOCK={value!r}: expected '+<days>d' or an ISO 8601 instant") from exc
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def pytest_configure(config: pytest.Config) -> None:
    global _travel  # noqa: PLW0603 - one travel for the whole session, started before any test module is imported
    if _travel is not None:
        return
    import time_machine

    # Without PREGEN_TEST_CLOCK the travel goes to the real now: it is how tests/wall_clock.py sees who reads the clock.
    value = os.environ.get("PREGEN_TEST_CLOCK", "")
    today = dt.datetime.now(tz=dt.UTC)
    wall_clock.install()
    _travel = time_machine.travel(moved_clock_destination(value, today) if value else today, tick=True)
    _travel.start()
    survey = os.environ.get("PREGEN_WALL_CLOCK_SURVEY")
    config.pluginmanager.register(wall_clock.Guard(Path(survey) if survey else None), "wall_clock_guard")


def pytest_unconfigure(config: pytest.Config) -> None:
    global _travel  # noqa: PLW0603
    if _travel is not None:
        _travel.stop()
        _travel = None


def pytest_report_header(config: pytest.Config) -> str | None:
    if not os.environ.get("PREGEN_TEST_CLOCK"):
        return None
    return f"clock moved to {dt.datetime.now(tz=dt.UTC).isoformat(timespec='seconds')} (PREGEN_TEST_CLOCK)"
