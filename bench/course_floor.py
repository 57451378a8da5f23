"""A 12-module x 8-lesson course on the local stack, the model taking Claude's time (issue 27's floor): ready with
0 invocation timeouts and 0 dead-lettered messages; time to ready and time to the first readable lesson. The
"half-shared course reuses lessons" figure is not measured here (the markdown says why).

    .venv/bin/python -m bench course_floor [--latency realistic] [--concurrency 16] [--timeout 900] [--write]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option
from bench.realtime import StackHealth, load_average, stack_health

if TYPE_CHECKING:
    import argparse

SECTION = "course_floor"
TWELVE_BY_EIGHT = {"subject": "world history", "grade": "11", "modules": 12, "lessons_per_module": 8}


@dataclass
class CourseRun:
    parts_total: int = 0
    status: str = ""
    ready_s: float | None = None
    first_lesson_s: float | None = None
    first_part_s: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    failed_parts: int = 0
    health: StackHealth | None = None
    load: str = ""


def readable_lessons(course: dict[str, Any]) -> int:
    """Lessons whose content the course body carries: what a learner can open now."""
    return sum(1 for module in course.get("modules", []) for lesson in module.get("lessons", []) if "content" in lesson)


def follow_course(url: str, token: str, request: dict[str, Any], timeout_s: float, poll_s: float) -> CourseRun:
    run = CourseRun()
    started = time.monotonic()
    status, accepted = http.post(f"{url}/v1/courses", token, request)
    if status != 202:
        raise SystemExit(f"course refused: {status} {accepted}")
    run.parts_total = int(accepted["parts_total"])
    course: dict[str, Any] = {}
    while time.monotonic() - started < timeout_s:
        _, course = http.get(f"{url}/v1/courses/{accepted['course_id']}", token)
        now = time.monotonic() - started
        if run.first_part_s is None and sum(int(m["parts"]["done"]) for m in course.get("modules", [])):
            run.first_part_s = now
        if run.first_lesson_s is None and readable_lessons(course):
            run.first_lesson_s = now
        if course.get("status") in ("ready", "failed"):
            run.ready_s = now if course["status"] == "ready" else None
            break
        time.sleep(poll_s)
    run.status = str(course.get("status"))
    run.figures = dict(course.get("figures") or {})
    run.failed_parts = int(course.get("parts", {}).get("failed", 0))
    return run


def run_floor(latency: str, concurrency: int, timeout_s: float, poll_s: float) -> CourseRun:
    from pregen_tools import tokens as dev_tokens

    options = {"local_concurrency": concurrency, "report": False}
    with Environment("emulator", in_process=True, stack_options=options, model_latency=latency) as stack:
        # A teacher's: the interactive lane (a student's 204-part course goes to the background lane by default).
        token = dev_tokens.mint("course-dana", "teacher")
        run = follow_course(stack.url, token, TWELVE_BY_EIGHT, timeout_s, poll_s)
        run.health = stack_health(stack.state)
        run.load = load_average()
    return run


def floors(run: CourseRun) -> list[tuple[str, bool]]:
    health = run.health
    return [
        ("12 x 8 course ready", run.status == "ready" and run.ready_s is not None),
        ("0 invocation timeouts", health is not None and health.total_timeouts == 0),
        ("0 messages in any DLQ", health is not None and health.total_dead_letters == 0),
    ]


def markdown(run: CourseRun, args: argparse.Namespace, command: str) -> str:
    ready = f"{run.ready_s:.0f} s" if run.ready_s is not None else f"{run.status} (timeout {args.timeout:g} s)"
    first = f"{run.first_lesson_s:.0f} s" if run.first_lesson_s is not None else "none"
    part = f"{run.first_part_s:.0f} s" if run.first_part_s is not None else "none"
    compressed = (
        ""
        if args.latency == "realistic"
        else f" **Model time compressed (`MODEL_LATENCY={args.latency}`): not a floor at Claude's speed.**"
    )
    lines = [
        "## A 12 x 8 course at the model's real time",
        "",
        f"Command: `{command}`",
        "",
        f"The local stack, `MODEL_LATENCY={args.latency}` (the offline generator sleeps the tier's time to first "
        f"token plus its answer's output tokens at the tier's rate), {args.concurrency} environments per lane, the "
        f"learner polling the course every {args.poll:g} s. Load average at the end: {run.load}.{compressed}",
        "",
        "| figure | value |",
        "|---|---|",
        f"| parts (lessons, brain bytes, assessments) | {run.parts_total} + the plan |",
        f"| request to the first part done (a module's `parts.done`) | {part} |",
        f"| **request to the first readable lesson** (through the course API) | **{first}** |",
        f"| **request to ready** | **{ready}** |",
        f"| generated / reused / failed parts | {run.figures.get('generated')} / {run.figures.get('reused')} / "
        f"{run.failed_parts} |",
        *(run.health.rows() if run.health else ["| stack health | not read |"]),
        "",
        "Floors: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in floors(run)) + ".",
    ]
    lines += [
        "",
        "The course API shows a lesson's body only once the whole course is ready (while it generates, each "
        "module's `parts` counts); so through it the first readable lesson comes at ready, and the first part "
        "done is the earliest a per-lesson view could show one.",
        "",
        'The "half-shared course reuses lessons" figure is not measured: the schema-following fake '
        "(pregen_fakes.schema_follower) plans a course by handing the offline planner a course built from the "
        'schema alone (subject "the schema\'s subject"), so its lesson titles are named by position too, and any '
        'two courses of the same shape would "share" lessons whatever their subjects. A run '
        "(`--latency scale:0.05`, fake at instant) reported 24 of 24 lessons reused, which says nothing about real "
        "sharing; it needs a planner whose titles follow the subject.",
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> Result:
    result = run_floor(args.latency, args.concurrency, args.timeout, args.poll)
    command = f"python -m bench course_floor --latency {args.latency} --timeout {args.timeout:g}"
    command += f" --concurrency {args.concurrency}" if args.concurrency != 16 else ""
    text = markdown(result, args, command)
    figures = {
        "first_lesson_s": result.first_lesson_s,
        "ready_s": result.ready_s,
        "health": result.health.__dict__ if result.health else None,
        "first_part_s": result.first_part_s,
        "load": result.load,
    }
    ok = all(met for _, met in floors(result))
    return Result(text, args.command, figures, sections={SECTION: text}, ok=ok)


SCENARIO = Scenario(
    "course_floor",
    __doc__,
    run,
    options=(
        option("--latency", default="realistic", help="MODEL_LATENCY: realistic, scale:F, fixed:S, instant"),
        option("--concurrency", type=int, default=16, help="the local pollers' environments per lane"),
        option("--timeout", type=float, default=900.0, help="seconds to wait for the course"),
        option("--poll", type=float, default=1.0, help="seconds between the learner's looks at the course"),
    ),
)
