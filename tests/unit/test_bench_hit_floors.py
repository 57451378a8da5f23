"""Issue 34's hit floors as bench measures them: closed-loop phases, the ratio and the verdicts beside the machine's
load, and the throughput bench's generators (the anthropic SDK through the fake, or the offline one)."""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from typing import TYPE_CHECKING

from bench import hit_saturation, throughput
from bench.harness.machine import Load, machine_ticks

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest


def _args(**overrides: object) -> argparse.Namespace:
    values = {"clients": 16, "keys": 400, "phase": 10.0, "rounds": 1, "serial": 2000} | overrides
    return argparse.Namespace(**values)


def _phase(side: str, done: int, seconds: float, *, errors: dict[str, int] | None = None) -> hit_saturation.Phase:
    return hit_saturation.Phase(
        side,
        seconds=seconds,
        done=done,
        errors=errors or {},
        latencies_ms=[1.0] * done,
        busy_cores=1.5,
        load_average=2.0,
        cpu_ms={"environments of GetContentFunction": 1.2, "DynamoDB Local (java)": 0.4},
    )


def _serial(p50: float | None) -> dict[str, object]:
    return {
        "hits": 2000,
        "errors": 0,
        "client_ms_p50": 2.0,
        "report_ms_p50": p50,
        "report_ms_p99": 9.0,
        "busy_cores": 1.0,
        "load_average": 1.5,
    }


def test_the_ratio_is_hits_over_getitems_with_each_phases_load_beside_it() -> None:
    # Given a round of 300 hits/s against 500 GetItems/s, and a warm hit's REPORT p50 of 2.5 ms
    figures = {"pairs": [(_phase("hits", 3000, 10), _phase("GetItem", 5000, 10))], "serial": _serial(2.5)}
    # When it is reported
    text, ok = hit_saturation.markdown(_args(), figures)
    # Then the ratio is 0.60x, the floor is met, and each phase's cores busy and load average are in its row
    assert "| 1 | 300 | 0 | 1.0 / 1.0 | 1.50 | 2.0 | 500 | 0 | 1.0 / 1.0 | 1.50 | 2.0 | **0.60x** |" in text
    assert "**0.60x** (floor 0.5x), 0 errors: **met**" in text
    assert "REPORT duration p50 **2.5 ms**" in text
    assert "cores busy 1.00, load 1.5" in text
    assert ok


def test_an_error_or_a_slow_warm_hit_misses_the_floor() -> None:
    fast = (_phase("hits", 3000, 10), _phase("GetItem", 5000, 10))
    failing = (_phase("hits", 3000, 10, errors={"503": 1}), _phase("GetItem", 5000, 10))
    assert not hit_saturation.markdown(_args(), {"pairs": [failing], "serial": _serial(2.5)})[1]
    assert not hit_saturation.markdown(_args(), {"pairs": [fast], "serial": _serial(3.4)})[1]
    assert not hit_saturation.markdown(_args(), {"pairs": [fast], "serial": _serial(None)})[1]
    slow = (_phase("hits", 2000, 10), _phase("GetItem", 5000, 10))  # 0.40x
    text, ok = hit_saturation.markdown(_args(), {"pairs": [slow], "serial": _serial(2.5)})
    assert "**0.40x** (floor 0.5x), 0 errors: **not met**" in text
    assert not ok


def test_the_run_ratio_weighs_each_round_by_its_time() -> None:
    # 100 hits/s for 10 s and 300/s for 30 s → 250 hits/s; GetItems 500/s throughout → 0.50x
    pairs = [
        (_phase("hits", 1000, 10), _phase("GetItem", 5000, 10)),
        (_phase("hits", 9000, 30), _phase("GetItem", 15000, 30)),
    ]
    text, _ = hit_saturation.markdown(_args(rounds=2), {"pairs": pairs, "serial": _serial(2.0)})
    assert "250 hits/s against 500 GetItems/s: **0.50x**" in text


def test_a_closed_loop_counts_answers_and_errors_per_side() -> None:
    # Given two clients, one always answered, one whose every third call fails
    calls = [0]
    lock = threading.Lock()

    def good() -> str | None:
        return None

    def flaky() -> str | None:
        with lock:
            calls[0] += 1
            return "503" if calls[0] % 3 == 0 else None

    # When they run for a short phase (this process stands in for the stack)
    phase = hit_saturation.closed_loop("hits", [good, flaky], 0.2, os.getpid())
    # Then every call is either a latency sample or a counted error, and the machine's load is recorded
    assert phase.done > 0
    assert phase.errors.get("503", 0) == calls[0] // 3
    assert phase.rate == phase.done / phase.seconds
    assert phase.busy_cores >= 0
    assert phase.load_average >= 0


def test_the_serial_window_must_cover_the_stacks_report_figures() -> None:
    assert hit_saturation.REPORT_WINDOW == 2000
    assert hit_saturation.check(_args(serial=500)) is not None
    assert hit_saturation.check(_args(serial=2000)) is None


def test_load_measures_busy_cores_since_it_was_made() -> None:
    busy, idle = machine_ticks()
    assert busy >= 0
    assert idle >= 0
    load = Load()
    # Some CPU of this process, until the machine's busy ticks (10 ms each) have moved: a fixed amount of work can
    # fit inside one tick on a fast machine, and then nothing was measured (seen once in CI)
    for _ in range(1_000):
        sum(i * i for i in range(50_000))
        if machine_ticks()[0] > load.busy_start + 1:
            break
    load.stop()
    assert load.busy_cores > 0
    assert "cores busy" in load.describe()


def test_the_sdk_generator_points_the_worker_at_the_fake_and_the_offline_one_at_its_latency(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[float] = []

    @contextlib.contextmanager
    def fake(latency: float) -> Iterator[str]:
        started.append(latency)
        yield "http://127.0.0.1:9"

    monkeypatch.setattr(throughput, "fake_anthropic", fake)
    with contextlib.ExitStack() as cleanup:
        assert throughput.generator_env("offline", 0.25, cleanup) == {"MODEL_LATENCY": "fixed:0.25"}
        assert started == []
        env = throughput.generator_env("sdk", 0.25, cleanup)
    assert env == {"ANTHROPIC_API_KEY": "fake-key", "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}
    assert started == [0.25]
