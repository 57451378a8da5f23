"""A new learner's ``POST /v1/exams/warm`` on the local stack, the model taking Claude's time (issue 27's floor):
both exam types end ready with 0 invocation timeouts and 0 dead-lettered messages; the time until the first
diagnostic claim answers 200, and what the app can show meanwhile (the inventory's progress).

    .venv/bin/python -m bench exams_warm [--latency realistic] [--timeout 1500] [--write]

The learner's app warms on its first page load, then follows ``GET /v1/exams/{type}/inventory`` (sections done of
sections total per exam) and claims a diagnostic once the inventory shows one ready. The run ends when every
exam type has its target of ready exams and nothing is generating (the claimed diagnostic's replacement included),
or at ``--timeout`` (a MISSED floor, said so).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option
from bench.realtime import StackHealth, load_average, stack_health

if TYPE_CHECKING:
    import argparse

SECTION = "exams_warm"
EXAM_TYPES = ("diagnostic", "practice")


@dataclass
class Progress:
    """One look at the inventory: seconds since the warm, per exam type (ready, generating, sections done/total)."""

    at_s: float
    by_type: dict[str, tuple[int, int, int, int]]

    def cell(self, exam_type: str) -> str:
        ready, generating, done, total = self.by_type[exam_type]
        return f"{ready} ready, {generating} generating ({done}/{total} sections)"


@dataclass
class WarmRun:
    warm_status: int = 0
    warm_s: float = 0.0
    enqueued: int = 0
    first_claim_s: float | None = None
    claim_misses: int = 0  # claims answered 202 before the inventory said ready (none expected: the app waits)
    ready_s: float | None = None  # every type at its target, nothing generating
    targets: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    progress: list[Progress] = field(default_factory=list)
    health: StackHealth | None = None
    load: str = ""


def inventories(url: str, token: str) -> dict[str, dict[str, Any]]:
    found = {}
    for exam_type in EXAM_TYPES:
        status, body = http.get(f"{url}/v1/exams/{exam_type}/inventory", token)
        if status != 200:
            raise SystemExit(f"inventory of {exam_type}: {status} {body}")
        found[exam_type] = body
    return found


def _progress(at_s: float, inventory: dict[str, dict[str, Any]]) -> Progress:
    by_type = {}
    for exam_type, body in inventory.items():
        live = [e for e in body["exams"] if e["status"] in ("ready", "generating")]
        done = sum(int(e["sections_done"]) for e in live)
        total = sum(int(e["sections_total"]) for e in live)
        by_type[exam_type] = (int(body["ready"]), int(body["generating"]), done, total)
    return Progress(round(at_s, 1), by_type)


def settled(inventory: dict[str, dict[str, Any]]) -> bool:
    return all(b["generating"] == 0 and b["ready"] >= b["target"] for b in inventory.values())


def warm_and_follow(url: str, token: str, timeout_s: float, poll_s: float) -> WarmRun:
    """Warm, follow the inventory, claim a diagnostic as soon as one is ready, until settled or ``timeout_s``."""
    run = WarmRun()
    started = time.monotonic()
    run.warm_status, body = http.post(f"{url}/v1/exams/warm", token, None)
    run.warm_s = time.monotonic() - started
    if run.warm_status != 202:
        raise SystemExit(f"POST /v1/exams/warm answered {run.warm_status}: {body}")
    run.enqueued = sum(int(t["enqueued"]) for t in body["exam_types"])
    while time.monotonic() - started < timeout_s:
        inventory = inventories(url, token)
        now = time.monotonic() - started
        look = _progress(now, inventory)
        if not run.progress or look.by_type != run.progress[-1].by_type:
            run.progress.append(look)
        run.targets = {t: int(b["target"]) for t, b in inventory.items()}
        run.failed = {t: int(b["failed"]) for t, b in inventory.items()}
        if run.first_claim_s is None and inventory["diagnostic"]["ready"] >= 1:
            status, _ = http.post(f"{url}/v1/exams/diagnostic/claim", token, None)
            if status == 200:
                run.first_claim_s = time.monotonic() - started
            else:
                run.claim_misses += 1
            continue
        if run.first_claim_s is not None and settled(inventory):
            run.ready_s = now
            break
        time.sleep(poll_s)
    return run


def run_stack(latency: str, concurrency: int, timeout_s: float, poll_s: float) -> WarmRun:
    from pregen_tools import tokens as dev_tokens

    options = {"local_concurrency": concurrency, "report": False}
    with Environment("emulator", in_process=True, stack_options=options, model_latency=latency) as stack:
        run = warm_and_follow(stack.url, dev_tokens.mint(f"new-learner-{time.time_ns()}"), timeout_s, poll_s)
        run.health = stack_health(stack.state)
        run.load = load_average()
    return run


def _timeline(run: WarmRun, rows: int = 12) -> list[str]:
    """The inventory as the app saw it: at most ``rows`` looks, evenly spread, the first and last included."""
    looks = run.progress
    if len(looks) > rows:
        step = (len(looks) - 1) / (rows - 1)
        looks = [looks[round(i * step)] for i in range(rows)]
    return [f"| {p.at_s:.0f} s | {p.cell('diagnostic')} | {p.cell('practice')} |" for p in looks]


def floors(run: WarmRun) -> list[tuple[str, bool]]:
    health = run.health
    return [
        ("both exam types ready (target reached, nothing generating)", run.ready_s is not None),
        ("0 invocation timeouts", health is not None and health.total_timeouts == 0),
        ("0 messages in any DLQ", health is not None and health.total_dead_letters == 0),
        ("no exam failed", not any(run.failed.values())),
        ("a diagnostic claim answered 200", run.first_claim_s is not None),
    ]


def markdown(run: WarmRun, args: argparse.Namespace, command: str) -> str:
    first = f"{run.first_claim_s:.0f} s" if run.first_claim_s is not None else f"none within {args.timeout:g} s"
    ready = f"{run.ready_s:.0f} s" if run.ready_s is not None else f"not within {args.timeout:g} s"
    compressed = (
        ""
        if args.latency == "realistic"
        else (f" **Model time compressed (`MODEL_LATENCY={args.latency}`): not a floor at Claude's speed.**")
    )
    health = run.health.rows() if run.health else ["| stack health | not read |"]
    return "\n".join(
        [
            "## A new learner's exam warm, at the model's real time",
            "",
            f"Command: `{command}`",
            "",
            f"The local stack, the offline generator sleeping `MODEL_LATENCY={args.latency}` per call "
            f"(pregen.domain.model_time), {args.concurrency} environments per lane. Load average at the end: "
            f"{run.load}.{compressed}",
            "",
            "| figure | value |",
            "|---|---|",
            f"| `POST /v1/exams/warm` | {run.warm_status} in {run.warm_s * 1000:.0f} ms, {run.enqueued} exams "
            f"enqueued (targets: {', '.join(f'{t} {n}' for t, n in run.targets.items())}) |",
            f"| **first diagnostic claim answered 200** | **{first}** after the warm |",
            f"| every type at its target, nothing generating (the claimed one replaced) | {ready} |",
            *health,
            f"| exams failed | {', '.join(f'{t} {n}' for t, n in run.failed.items())} |",
            "",
            "What the app can show meanwhile: `GET /v1/exams/{type}/inventory` answers at once with each exam's "
            "`status` and `sections_done` / `sections_total` (what a progress bar needs), as it went in this run:",
            "",
            "| after the warm | diagnostic | practice |",
            "|---|---|---|",
            *_timeline(run),
            "",
            "Floors: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in floors(run)) + ".",
        ]
    )


def run(args: argparse.Namespace) -> Result:
    result = run_stack(args.latency, args.concurrency, args.timeout, args.poll)
    command = f"python -m bench exams_warm --latency {args.latency} --timeout {args.timeout:g}"
    command += f" --concurrency {args.concurrency}" if args.concurrency != 4 else ""
    text = markdown(result, args, command)
    figures = {
        "first_claim_s": result.first_claim_s,
        "ready_s": result.ready_s,
        "health": result.health.__dict__ if result.health else None,
        "load": result.load,
    }
    ok = all(met for _, met in floors(result))
    return Result(text, args.command, figures, sections={SECTION: text}, ok=ok)


SCENARIO = Scenario(
    "exams_warm",
    __doc__,
    run,
    options=(
        option("--latency", default="realistic", help="MODEL_LATENCY: realistic, scale:F, fixed:S, instant"),
        option("--timeout", type=float, default=1500.0, help="seconds to wait for both types to be ready"),
        option("--concurrency", type=int, default=4, help="the local pollers' environments per lane (AWS: 4+)"),
        option("--poll", type=float, default=2.0, help="seconds between the app's looks at the inventory"),
    ),
)
