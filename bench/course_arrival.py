"""A teacher's 12 x 8 course on the local stack at a given model latency (``realistic`` by default), over HTTP:
when its first lesson is readable, when its first three are, when the whole course is ready; and, read from the
answer itself, how many parts were not written from their objectives or not in the course's language.

    .venv/bin/python -m bench course_arrival [--latency realistic] [--concurrency 16] [--write]
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option

if TYPE_CHECKING:
    import argparse

SECTION = "course_arrival"
COURSE = {"subject": "marine biology", "grade": "8", "modules": 12, "lessons_per_module": 8, "language": "Spanish"}


def _lessons(course: dict[str, Any]) -> list[dict[str, Any]]:
    return [lesson for module in course.get("modules", []) for lesson in module.get("lessons", [])]


def follow(url: str, token: str, timeout_s: float) -> dict[str, Any]:
    """POST the course, then poll it: the seconds until the first lesson, the first three and the course were
    readable, and the last answer."""
    started = time.monotonic()
    status, _, accepted = http.request("POST", f"{url}/v1/courses", token, COURSE)
    if status != 202:
        raise SystemExit(f"course refused: {status} {accepted}")
    seen: dict[str, float] = {}
    deadline = started + timeout_s
    while True:
        _, _, course = http.request("GET", f"{url}/v1/courses/{accepted['course_id']}", token)
        now = time.monotonic() - started
        readable = sum("content" in lesson for lesson in _lessons(course)[:3])
        if readable >= 1:
            seen.setdefault("first", now)
        if readable == 3:
            seen.setdefault("first_three", now)
        if course.get("status") in ("ready", "partial", "failed") or time.monotonic() > deadline:
            seen["end"] = now
            return {"seen": seen, "course": course}
        time.sleep(0.5)


def audit(course: dict[str, Any], language: str) -> dict[str, int]:
    """Parts not written from their objectives (a lesson not listing its outline objectives, an assessment question
    naming none of its module's) and parts whose recorded language is not the course's, read from the answer."""
    parts = off_objective = wrong_language = 0
    for module in course.get("modules", []):
        objectives = {o.casefold() for lesson in module.get("lessons", []) for o in lesson["objectives"]}
        bodies = [module["assessment"]["content"]] if "assessment" in module else []
        for lesson in module.get("lessons", []):
            if "content" in lesson:
                taught = [o.casefold() for o in lesson["content"]["content"].get("objectives", [])]
                off_objective += taught != [o.casefold() for o in lesson["objectives"]]
                bodies.append(lesson["content"]["content"])
            if "brain_bytes" in lesson:
                bodies.append(lesson["brain_bytes"]["content"])
        for question in bodies[0].get("questions", []) if "assessment" in module else []:
            off_objective += str(question.get("objective", "")).casefold() not in objectives
        parts += len(bodies)
        wrong_language += sum(str(body.get("language", "")).casefold() != language for body in bodies)
    return {"parts": parts, "off_objective": off_objective, "wrong_language": wrong_language}


def run(args: argparse.Namespace) -> Result:
    from pregen_tools import tokens as dev_tokens

    options = {
        "local_concurrency": args.concurrency,
        "extra_env": {"MODEL_LATENCY": args.latency},
        "report": True,
    }
    with Environment("emulator", in_process=True, stack_options=options) as stack:
        followed = follow(stack.url, dev_tokens.mint("bench-teacher", "teacher"), args.timeout)
    course, seen = followed["course"], followed["seen"]
    found = audit(course, COURSE["language"].casefold())
    checks = {c["name"]: c["passed"] for c in course.get("validation", {}).get("checks", [])}
    command = f".venv/bin/python -m bench course_arrival --latency {args.latency} --concurrency {args.concurrency}" + (
        " --write" if args.write else ""
    )
    rows = [
        ("course", f"12 x 8 in {COURSE['language']}: {course.get('parts', {}).get('total')} parts and a plan"),
        ("status at the end", f"{course.get('status')} ({course.get('parts')})"),
        ("first lesson readable", f"{seen.get('first', float('nan')):.1f} s after the POST"),
        ("first three lessons readable", f"{seen.get('first_three', float('nan')):.1f} s"),
        ("course ready", f"{seen['end']:.1f} s"),
        ("lessons or questions not from their objectives", f"{found['off_objective']} ({found['parts']} parts read)"),
        ("parts not in the course's language", str(found["wrong_language"])),
        ("course checks", ", ".join(f"{name} {'passed' if ok else 'FAILED'}" for name, ok in checks.items())),
    ]
    text = (
        f"## A teacher's course as it arrives\n\nCommand: `{command}`\n\n"
        f"The local stack (offline generator at MODEL_LATENCY={args.latency}, the worker's pollers at "
        f"{args.concurrency} environments per lane), polled over HTTP every 0.5 s with a teacher's token.\n\n"
        "| measure | result |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)
    )
    return Result(text, args.command, {"seen": seen, "audit": found, "checks": checks}, sections={SECTION: text})


SCENARIO = Scenario(
    "course_arrival",
    __doc__,
    run,
    options=(
        option("--latency", default="realistic", help="MODEL_LATENCY of the stack (see ModelLatency.parse)"),
        option("--concurrency", type=int, default=16, help="the local pollers' environments per lane"),
        option("--timeout", type=float, default=1800, help="seconds to wait for the course"),
    ),
)
