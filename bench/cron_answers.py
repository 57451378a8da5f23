"""``POST /v1/ops/cron/{task}`` answers in under 1 s for every task (issue 27's floor): the local stack (its own
process, as ``make run`` starts it), an admin token, each task asked ``--rounds`` times; the answer's time per task
(worst and median), then each run followed to its end (``GET /v1/ops/cron/runs/{run_id}``), as an operator would.

    .venv/bin/python -m bench cron_answers [--rounds 3] [--latency realistic] [--write]

The e2e test ``test_every_cron_task_answers_within_a_second_and_its_run_ends_done`` holds the floor on each run of
the e2e tier; this records the figures with the load they were measured under.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option
from bench.realtime import load_average, stack_health

if TYPE_CHECKING:
    import argparse

SECTION = "cron_answers"
FLOOR_S = 1.0


def follow(url: str, token: str, location: str, timeout_s: float) -> tuple[str, float]:
    """The run's last status and the seconds it took to get there (from the first look)."""
    started = time.monotonic()
    while True:
        _, run = http.get(url + location, token)
        status = str(run.get("status")) if isinstance(run, dict) else "unreadable"
        if status in {"done", "failed"} or time.monotonic() - started > timeout_s:
            return status, time.monotonic() - started
        time.sleep(0.5)


def measure(url: str, rounds: int, follow_s: float) -> dict[str, dict[str, Any]]:
    from pregen.services.schedules import TASKS
    from pregen_tools import tokens as dev_tokens

    token = dev_tokens.mint("bench-ops", "admin")
    found: dict[str, dict[str, Any]] = {task: {"seconds": [], "statuses": [], "runs": []} for task in TASKS}
    for _ in range(rounds):
        for task in TASKS:
            began = time.monotonic()
            status, headers, _ = http.request("POST", f"{url}/v1/ops/cron/{task}", token)
            found[task]["seconds"].append(time.monotonic() - began)
            found[task]["statuses"].append(status)
            if "location" in headers:
                found[task]["runs"].append(headers["location"])
    for figures in found.values():
        ends = [follow(url, token, location, follow_s) for location in figures["runs"]]
        figures["ends"] = [status for status, _ in ends]
        figures["run_s"] = max((s for _, s in ends), default=0.0)
    return found


def markdown(found: dict[str, dict[str, Any]], load: str, health_rows: list[str], args: argparse.Namespace) -> str:
    rows = []
    for task, f in found.items():
        seconds, ends = f["seconds"], f["ends"]
        statuses = ", ".join(map(str, sorted(set(f["statuses"]))))
        ended = ", ".join(f"{status} {ends.count(status)}" for status in sorted(set(ends)))
        median_ms, worst_ms = statistics.median(seconds) * 1000, max(seconds) * 1000
        rows.append(f"| `{task}` | {statuses} | {median_ms:.0f} | {worst_ms:.0f} | {ended} |")
    worst = max(max(f["seconds"]) for f in found.values())
    return "\n".join(
        [
            "## Operator cron routes answer at once",
            "",
            f"Command: `python -m bench cron_answers --rounds {args.rounds} --latency {args.latency}`",
            "",
            f"The local stack in its own process (`MODEL_LATENCY={args.latency}`), an admin token, every task of "
            f"`pregen.services.schedules.TASKS` asked {args.rounds} times in turn; each answer's wall time as the "
            f"client saw it (HTTP included), then every run followed to its end. Load average at the end: {load}.",
            "",
            "| task | status | median ms | worst ms | runs ended |",
            "|---|---|---|---|---|",
            *rows,
            "",
            *health_rows,
            "",
            f"Floor: every answer under {FLOOR_S:g} s: {'met' if worst < FLOOR_S else 'MISSED'} "
            f"(worst {worst * 1000:.0f} ms).",
        ]
    )


def run(args: argparse.Namespace) -> Result:
    with Environment("emulator", model_latency=args.latency) as stack:
        found = measure(stack.url, args.rounds, args.follow)
        health = stack_health(stack.state)
        load = load_average()
    text = markdown(found, load, ["| stack | after the run |", "|---|---|", *health.rows()], args)
    worst = max(max(f["seconds"]) for f in found.values())
    ended = all(status == "done" for f in found.values() for status in f["ends"])
    statuses = {s for f in found.values() for s in f["statuses"]}
    figures = {t: {"median_s": statistics.median(f["seconds"]), "worst_s": max(f["seconds"])} for t, f in found.items()}
    ok = worst < FLOOR_S and ended and statuses == {202}
    return Result(text, args.command, figures, sections={SECTION: text}, ok=ok)


SCENARIO = Scenario(
    "cron_answers",
    __doc__,
    run,
    options=(
        option("--rounds", type=int, default=3, help="times each task is asked"),
        option("--latency", default="realistic", help="MODEL_LATENCY of the stack (the tasks' own model work)"),
        option("--follow", type=float, default=180.0, help="seconds to follow each run to its end"),
    ),
)
