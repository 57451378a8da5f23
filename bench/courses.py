"""Whole courses on the local stack, over HTTP: time to ready for a 6 x 4 course and the parallelism it reached, the
same request again (0 model calls), a second course sharing half its lessons (reused, not generated), 100 learners
asking at once (202 or 429 only, every accepted course ready), and the cost per course side by side (every part
direct on the larger model vs Pregen's tiers + batches + prompt caching, bench.cost's method).

    .venv/bin/python -m bench courses [--latency 2] [--concurrency 16] [--learners 100] [--write]
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

from bench.harness import Environment, Result, Scenario, http, option

if TYPE_CHECKING:
    import argparse

SECTION = "courses"
SIX_BY_FOUR = {"subject": "astronomy", "grade": "10", "modules": 6, "lessons_per_module": 4}
# Same subject and grade, 8 lessons a module: the offline planner titles lessons by subject and place, so lessons
# 1-4 of each module are the 6 x 4 course's (24 of 48 lessons shared).
HALF_SHARED = {**SIX_BY_FOUR, "lessons_per_module": 8}


def wait_ready(
    url: str, token: str, course_id: str, timeout_s: float, progress: list[tuple[float, int]] | None = None
) -> dict[str, Any]:
    """Poll the course until it is ready or failed; ``progress`` collects (time, parts done) as it goes."""
    deadline = time.monotonic() + timeout_s
    while True:
        _, _, course = http.request("GET", f"{url}/v1/courses/{course_id}", token)
        if progress is not None and "parts" in course:
            progress.append((time.monotonic(), int(course["parts"]["done"])))
        if course.get("status") in ("ready", "failed") or time.monotonic() > deadline:
            return dict(course)
        time.sleep(0.2)


def one_course(
    url: str,
    token: str,
    request: dict[str, Any],
    timeout_s: float = 600,
    progress: list[tuple[float, int]] | None = None,
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    status, _, accepted = http.request("POST", f"{url}/v1/courses", token, request)
    if status != 202:
        raise SystemExit(f"course refused: {status} {accepted}")
    course = wait_ready(url, token, accepted["course_id"], timeout_s, progress)
    return course, time.monotonic() - started


def peak_parallelism(progress: list[tuple[float, int]], latency: float) -> int:
    """The most parts finished within any window of one generation's latency: about the number of generations
    that ran at once at the busiest moment (each takes ``latency``)."""
    best = 0
    for i, (start, done) in enumerate(progress):
        later = [d for t, d in progress[i:] if t - start <= latency]
        best = max(best, max(later) - done)
    return best


def busy_seconds(course: dict[str, Any], latency: float) -> float:
    """Seconds of generation the course's parts and plan took: generated parts (and a planned outline) times the
    generator's latency. Divided by the wall time, the average number of generations running at once."""
    return float(course["figures"]["generated"]) * latency


def stampede(url: str, learners: int, latency: float) -> dict[str, Any]:
    """``learners`` students ask for a 2 x 2 course at the same instant (ten subjects between them)."""
    from pregen_tools import tokens as dev_tokens

    barrier = threading.Barrier(learners)
    answers: list[tuple[int, dict[str, str], Any, str]] = []
    lock = threading.Lock()

    def learner(i: int) -> None:
        token = dev_tokens.mint(f"course-learner-{i}")
        body = {"subject": f"geology {i % 10}", "grade": "8", "modules": 2, "lessons_per_module": 2}
        barrier.wait()
        try:
            status, headers, answer = http.request("POST", f"{url}/v1/courses", token, body)
        except OSError as exc:  # no answer at all (reset, timeout): counted, never dropped
            status, headers, answer = 0, {}, {"error": repr(exc)}
        with lock:
            answers.append((status, headers, answer, token))

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(learners)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [(a["course_id"], token) for status, _, a, token in answers if status == 202]
    statuses = sorted({status for status, _, _, _ in answers})
    no_retry_after = sum(1 for status, headers, _, _ in answers if status == 429 and "retry-after" not in headers)
    finals = [wait_ready(url, token, course_id, 60 + latency * 60)["status"] for course_id, token in accepted]
    return {
        "statuses": statuses,
        "accepted": len(accepted),
        "refused": sum(1 for status, _, _, _ in answers if status == 429),
        "answered": len(answers),
        "no_retry_after": no_retry_after,
        "ready": finals.count("ready"),
        "not_ready": len(finals) - finals.count("ready"),
        "seconds": time.monotonic() - started,
    }


def run_stack(latency: float, concurrency: int, learners: int) -> dict[str, Any]:
    from pregen_tools import tokens as dev_tokens

    options = {"local_concurrency": concurrency, "extra_env": {"MODEL_LATENCY": f"fixed:{latency:g}"}, "report": True}
    admin = dev_tokens.mint("bench-ops", "admin")
    with Environment("emulator", in_process=True, stack_options=options) as stack:
        url = stack.url
        progress: list[tuple[float, int]] = []
        first, first_s = one_course(url, dev_tokens.mint("course-alice", "teacher"), SIX_BY_FOUR, progress=progress)
        generated_before = http.request("GET", f"{url}/v1/analytics", admin)[2]["totalGenerated"]
        again, again_s = one_course(url, dev_tokens.mint("course-bob", "teacher"), SIX_BY_FOUR)
        generated_after = http.request("GET", f"{url}/v1/analytics", admin)[2]["totalGenerated"]
        half, half_s = one_course(url, dev_tokens.mint("course-carol", "teacher"), HALF_SHARED)
        crowd = stampede(url, learners, latency)
        courses = http.request("GET", f"{url}/v1/analytics", admin)[2]["courses"]
    return {
        "first": first,
        "first_s": first_s,
        "parallelism": busy_seconds(first, latency) / first_s,
        "peak": peak_parallelism(progress, latency),
        "again": again,
        "again_s": again_s,
        "again_model_calls": generated_after - generated_before,
        "half": half,
        "half_s": half_s,
        "crowd": crowd,
        "analytics": courses,
    }


# -- cost per course, side by side (bench.cost's method: the fake provider, the worker's own adapter) --------------


def course_cost() -> dict[str, float]:
    from bench.cost import answer_tokens, bench_settings, generator, run_batched, run_direct
    from pregen.adapters.generators.offline import OfflineGenerator
    from pregen.domain.courses import CourseRequest, plan_parts, validate_outline
    from pregen.domain.models import ContentRequest, Kind
    from pregen_fakes.fake_anthropic import running_fake_anthropic

    request = CourseRequest.model_validate(SIX_BY_FOUR)
    outline = validate_outline(request, OfflineGenerator().plan_course(request).body)
    parts = [part.request for part in plan_parts(request, outline)]
    settings = bench_settings()

    def large(_: Kind) -> str:
        return settings.model_large

    def tokens(part: ContentRequest) -> int:
        return 350 if part.kind is Kind.BRAIN_BYTES else answer_tokens(part)

    with running_fake_anthropic(answer_tokens=tokens) as fake:
        baseline = run_direct("baseline", fake, parts, large, cached=False)
        fake.reset()
        plan_large = generator(fake, large, cached=False)
        plan_large.plan_model = settings.model_large
        baseline_plan = plan_large.plan_course(request).cost_usd
        interactive = run_direct("tiers + caching", fake, parts, settings.model_for, cached=True)
        fake.reset()
        plan_small = generator(fake, settings.model_for, cached=True)
        plan_small.plan_model = settings.model_small
        pregen_plan = plan_small.plan_course(request).cost_usd
        background = run_batched("tiers + batches + caching", fake, parts, settings.model_for)
    return {
        "parts": len(parts),
        "baseline": baseline.cost_usd + baseline_plan,
        "interactive": interactive.cost_usd + pregen_plan,
        "background": background.cost_usd + pregen_plan,
    }


def markdown(result: dict[str, Any], cost: dict[str, float], args: argparse.Namespace, command: str) -> str:
    first, again, half, crowd = result["first"], result["again"], result["half"], result["crowd"]
    lessons_half = half["figures"]["by_kind"]["lesson"]
    ratio_bg = cost["background"] / cost["baseline"]
    ratio_fg = cost["interactive"] / cost["baseline"]
    floors = [
        ("6 x 4 course ready ≤ 60 s", result["first_s"] <= 60),
        ("same request again: 0 model calls", result["again_model_calls"] == 0 and again["figures"]["generated"] == 0),
        ("half-shared course: shared lessons reused", lessons_half["reused"] == 24),
        (
            f"{args.learners} at once: 202/429 only, every accepted ready",
            set(crowd["statuses"]) <= {202, 429}
            and crowd["answered"] == args.learners
            and crowd["not_ready"] == 0
            and crowd["no_retry_after"] == 0,
        ),
        ("cost ≤ 50 % of direct on the larger model", ratio_bg <= 0.5),
    ]
    return "\n".join(
        [
            "## Courses",
            "",
            f"Command: `{command}`",
            "",
            f"The local stack (offline generator taking {args.latency:g} s per call, the worker's pollers at "
            f"{args.concurrency} environments per lane), over HTTP with learner tokens. A 6 x 4 course with "
            "assessments and brain bytes is 54 parts and one plan.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| 6 x 4 course: request to ready | {result['first_s']:.1f} s (score {first['validation']['score']}) |",
            f"| ... generations (plan + parts) / reused | {first['figures']['generated']} / "
            f"{first['figures']['reused']} |",
            f"| ... average parallelism (generation seconds / wall seconds) | {result['parallelism']:.1f} |",
            f"| ... peak parallelism (most parts finished within one {args.latency:g} s window) | {result['peak']} |",
            f"| same request again (another learner): request to ready | {result['again_s']:.1f} s |",
            f"| ... model calls (analytics totalGenerated before/after) | {result['again_model_calls']} |",
            f"| ... parts reused | {again['figures']['reused']} (saved ${again['figures']['saved_usd']:.4f}: the "
            "offline generator costs nothing) |",
            f"| 6 x 8 course, same subject (lessons 1-4 of each module shared) | {result['half_s']:.1f} s |",
            f"| ... lessons generated / reused | {lessons_half['generated']} / {lessons_half['reused']} |",
            f"| ... all parts generated / reused | {half['figures']['generated']} / {half['figures']['reused']} |",
            f"| {args.learners} learners ask at once (2 x 2 courses, 10 subjects) | statuses "
            f"{', '.join(map(str, crowd['statuses']))} (0: no answer): {crowd['accepted']} accepted, "
            f"{crowd['refused']} refused "
            f"(429 without Retry-After: {crowd['no_retry_after']}) |",
            f"| ... accepted courses ready / not | {crowd['ready']} / {crowd['not_ready']} "
            f"(all ready {crowd['seconds']:.1f} s after the barrier) |",
            f"| analytics courses section after the run | `{json.dumps(result['analytics'])}` |",
            "",
            f"**Cost per 6 x 4 course** ({cost['parts']:.0f} parts + plan), the fake provider through the worker's "
            "own adapter with bench.cost's realistic answer lengths (brain bytes ~350 output tokens):",
            "",
            "| run | USD per course | vs baseline |",
            "|---|---|---|",
            f"| every part and the plan direct on the larger model, no caching | {cost['baseline']:.4f} | 100 % |",
            f"| Pregen, interactive course: tiers + prompt caching (direct) | {cost['interactive']:.4f} | "
            f"{ratio_fg:.1%} |",
            f"| Pregen, background course: tiers + Message Batches + prompt caching | {cost['background']:.4f} | "
            f"{ratio_bg:.1%} |",
            "",
            "Floors: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in floors) + ".",
            "",
            "Parallelism is the average over the course's wall time (plan first, then the parts). The parts go to the "
            "interactive lane; the local pollers cap it (`--concurrency`), as `MaximumConcurrency` does in AWS. "
            "The three timed courses are a teacher's, in the interactive lane (a student's course past 50 parts goes "
            "to the background lane); a background course's cost is the last row (bench.cost's method; through the "
            "system's own batch path: the section on a background course through Message Batches).",
        ]
    )


def run(args: argparse.Namespace) -> Result:
    result = run_stack(args.latency, args.concurrency, args.learners)
    cost = course_cost()
    command = (
        f".venv/bin/python -m bench courses --latency {args.latency:g} --concurrency {args.concurrency} "
        f"--learners {args.learners}" + (" --write" if args.write else "")
    )
    text = markdown(result, cost, args, command)
    return Result(text, args.command, {"stampede": result, "cost": cost}, sections={SECTION: text})


SCENARIO = Scenario(
    "courses",
    __doc__,
    run,
    options=(
        option("--latency", type=float, default=2.0, help="seconds the offline generator takes per call"),
        option("--concurrency", type=int, default=16, help="the local pollers' environments per lane"),
        option("--learners", type=int, default=100),
    ),
)
