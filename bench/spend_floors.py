"""Spend floors: the model cost one learner can cause in a day, path by path, against their role's daily budget.

For each path that can make the model work (misses, pregenerate, regenerate, votes, exam warm, exam claims with the
scheduled top-up, navigation, warm, courses) and each role (student, teacher), a scripted client on moto in this
process calls the API functions (the real handlers, with the template's SpendAllowances and DailySpendCeiling) in a
loop across one simulated UTC day: every accepted request is followed by the worker draining both lanes, a 429 or
503 is waited out by moving the injected clock to its ``Retry-After`` (no real waiting), and each request asks for
new work (a new topic, subject or item), since a hit costs nothing; a request that gives the worker nothing to do
is followed by a pause doubling from 1 s to 15 min (back to 1 s once a request makes work), so a path that stops
costing still runs to the day's end. The model is the offline generator billed as
the provider would bill an answer of each kind's typical length on its tier (this measures money, not time: model
latency is instant). The cost caused is what the worker recorded (the day counters' ``cost_usd``, every kind),
checked against what the billing generator billed.

    .venv/bin/python -m bench spend_floors [--paths misses,courses] [--roles student] [--max-requests 3000]
        [--processes 1] [--write]
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

from bench.harness import Environment, Result, Scenario, option
from bench.report import DOC

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from pregen.domain.courses import CourseRequest, LibraryLesson
    from pregen.domain.models import ContentRequest, Generation
    from pregen.domain.programs import SectionSpec

DAY = 86_400
RELIABILITY = DOC.parent / "RELIABILITY.md"
ROLES = ("student", "teacher")
QUESTIONS = 50  # questions in each set a miss or a pre-generation asks for
SEEDED = 40  # library items made before the day (free), for the paths that act on existing content
IDLE_MAX_S = 900  # the longest pause after requests that gave the worker nothing to do


def _billed_generator(model_for: Callable[..., str]) -> Any:
    """The offline generator's content, each call billed at its kind's typical output on its tier's price (the
    estimator's figures: ``pregen.domain.spend``) and added to a ledger. ``free`` turns billing off for set-up."""
    from pregen.adapters.generators.offline import OfflineGenerator
    from pregen.domain.models import Kind, TokenUsage
    from pregen.domain.pricing import default_prices
    from pregen.domain.spend import (
        CACHED_PROMPT_TOKENS,
        COURSE_PLAN_OUTPUT_TOKENS,
        PLAN_STEP,
        PROMPT_TOKENS,
        SECTIONS_STEP,
        TOKENS_PER_ITEM,
        output_tokens,
    )

    prices = default_prices()

    class BilledGenerator(OfflineGenerator):
        def __init__(self) -> None:
            super().__init__()
            self.free = False
            self.billed_usd = 0.0
            self.calls = 0

        def _bill(self, generation: Generation, model: str, tokens_out: int) -> Generation:
            if self.free:
                return generation
            usage = TokenUsage(
                input_tokens=PROMPT_TOKENS, output_tokens=tokens_out, cache_read_input_tokens=CACHED_PROMPT_TOKENS
            )
            cost = prices.cost(model, usage)
            self.billed_usd += cost
            self.calls += 1
            return generation.model_copy(update={"model": model, "usage": usage, "cost_usd": cost})

        def generate(
            self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
        ) -> Generation:
            made = super().generate(request, feedback, max_calls=max_calls)
            return self._bill(made, model_for(request.kind, None), output_tokens(request))

        def plan_course(
            self, request: CourseRequest, *, offered: list[LibraryLesson] | None = None, max_calls: int | None = None
        ) -> Generation:
            made = super().plan_course(request, offered=offered, max_calls=max_calls)
            return self._bill(made, model_for(Kind.LESSON, PLAN_STEP), COURSE_PLAN_OUTPUT_TOKENS)

        def generate_section(self, spec: SectionSpec) -> Generation:
            made = super().generate_section(spec)
            questions = len(made.body["questions"])
            return self._bill(made, model_for(Kind.EXAM, SECTIONS_STEP), TOKENS_PER_ITEM * questions)

    return BilledGenerator()


@dataclass
class Outcome:
    """One path's run for one role."""

    path: str
    role: str
    requests: int = 0
    accepted: int = 0
    refused_429: int = 0
    refused_422: int = 0
    refused_503: int = 0
    forbidden: int = 0
    other: dict[int, int] = field(default_factory=dict)
    recorded_usd: float = 0.0
    billed_usd: float = 0.0
    charged_usd: float = 0.0
    calls: int = 0
    budget_usd: float = 0.0
    stopped: str = ""
    seconds: float = 0.0  # the run's wall time on this machine

    @property
    def ratio(self) -> float:
        return self.recorded_usd / self.budget_usd if self.budget_usd else 0.0

    @property
    def ok(self) -> bool:
        return self.recorded_usd <= self.budget_usd + 1e-9 and not any(s >= 500 for s in self.other)


class Client:
    """The scripted learner: one sub and role, the API functions, the worker and the simulated clock."""

    def __init__(self, aws: Any, role: str, clock: Any) -> None:
        self.aws = aws
        self.role = role
        self.sub = f"spend-{role}"
        self.clock = clock

    def call(self, function: str, name: str, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
        """Call ``functions.<function>.app`` with the sample event ``name`` made this learner's."""
        from tests.integration.conftest import api_event, call

        event = api_event(name, sub=self.sub, role=self.role, **kwargs)
        claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
        for claim in ("custom:grade", "custom:subjects"):  # the body names them (the sample token's would limit it)
            claims.pop(claim, None)
        return call(importlib.import_module(f"functions.{function}.app"), event)

    def drain(self) -> int:
        """The worker runs both lanes until they are empty: the batches it handled."""
        from tests.integration.conftest import run_worker

        return sum(
            len(run_worker(self.aws, lane, max_batches=1_000))
            for lane in ("InteractiveQueue", "BackgroundQueue", "InteractiveQueue")
        )


def _aws_with_one_sqs_client(resources: Any, template: Any, env: dict[str, str]) -> Any:
    """The integration tests' ``Aws``, its SQS client made once (the worker's drains ask for it three times a
    request; making a client cost 5 % of a path's time)."""
    import functools

    import boto3

    from tests.integration.conftest import Aws

    class OneClient(Aws):
        @functools.cached_property
        def sqs(self) -> Any:
            return boto3.client("sqs")

    return OneClient(resources=resources, template=template, env=env)


Request = tuple[str, str, dict[str, Any]]  # (function module, sample event, api_event's arguments)


def _item(n: int) -> dict[str, Any]:
    """A large question set: the most one miss or pre-generated item can ask of the model."""
    return {
        "kind": "question_set",
        "subject": "Spend floors",
        "topic": f"Topic {n}",
        "grade": "9",
        "question_type": "multiple_choice",
        "count": QUESTIONS,
    }


def _on_item(route: str, content_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"body": body, "path": f"/v1/content/{content_id}/{route}", "path_parameters": {"content_id": content_id}}


def _warming_moves() -> list[tuple[str, str, str]]:
    from pregen.domain.warming import default_warming_config

    config = default_warming_config()
    return [
        (grade, subject.name, skill)
        for grade, spec in config.grades.items()
        for subject in spec.subjects.values()
        for skill in subject.skills
    ]


def _warm_asks() -> list[tuple[str, list[str]]]:
    from pregen.domain.warming import default_warming_config

    return [(grade, sorted(spec.subjects)) for grade, spec in default_warming_config().grades.items()]


def _exam_claim(n: int) -> Request:
    exam = ("diagnostic", "practice")[n % 2]
    return "exams", "exams_claim.json", {"path": f"/v1/exams/{exam}/claim", "path_parameters": {"exam": exam}}


def _navigation(n: int) -> Request:
    moves = _warming_moves()
    grade, subject, skill = moves[n % len(moves)]
    body = {"subject": subject, "grade": grade, "to": {"step": "learn", "skill": skill}}
    return "navigation", "navigation.json", {"body": body}


def _warm(n: int) -> Request:
    asks = _warm_asks()
    grade, subjects = asks[n % len(asks)]
    return "warm", "warm.json", {"body": {"grade": grade, "subjects": subjects}}


# Each path's n-th request (given the seeded library items), for new work where the path allows it.
REQUESTS: dict[str, Callable[[int, list[str]], Request]] = {
    "misses": lambda n, _: ("get_content", "get_content.json", {"query": {k: str(v) for k, v in _item(n).items()}}),
    "pregenerate": lambda n, _: (
        "pre_generate",
        "pregenerate.json",
        {"body": {"priority": 50, "requests": [_item(n * 10 + i) for i in range(10)]}},
    ),
    "regenerate": lambda n, seeded: (
        "library",
        "library_regenerate.json",
        _on_item("regenerate", seeded[n % len(seeded)], {"reason": f"Another example, please ({n})."}),
    ),
    "votes": lambda n, seeded: (
        "library",
        "library_vote.json",
        _on_item("votes", seeded[n % len(seeded)], {"vote": "down", "comment": f"Wrong answer in example {n}."}),
    ),
    "exams_warm": lambda n, _: ("exams", "exams_warm.json", {"body": {"exam_types": ["diagnostic", "practice"]}}),
    "claims": lambda n, _: _exam_claim(n),
    "navigation": lambda n, _: _navigation(n),
    "warm": lambda n, _: _warm(n),
    "courses": lambda n, _: (
        "courses",
        "courses_create.json",
        {"body": {"subject": f"Spend floors {n}", "grade": "9", "modules": 2, "lessons_per_module": 4}},
    ),
}
PATHS = tuple(REQUESTS)


def _seed(client: Client, generator: Any) -> list[str]:
    """Library items (made free, by an admin, before the day) for regenerate and votes: their content ids."""
    from functions.get_content import app as get_content
    from tests.integration.conftest import api_event, call

    generator.free = True
    queries = [{"kind": "lesson", "subject": "Seeded", "topic": f"Item {i}", "grade": "9"} for i in range(SEEDED)]
    for query in queries:
        call(get_content, api_event("get_content.json", sub="spend-seed", role="admin", query=query))
    client.drain()
    ids = []
    for query in queries:
        status, _, body = call(get_content, api_event("get_content.json", sub="spend-seed", role="admin", query=query))
        assert status == 200, body
        ids.append(str(body["content_id"]))
    generator.free = False
    return ids


def _budget(role: str) -> float:
    from pregen.config.base import load
    from pregen.config.settings import RateLimitSettings
    from pregen.domain.models import Role

    limits = load(RateLimitSettings).rate_limits().for_role(Role(role))
    return float(limits.day or 0.0)


def run_one(path: str, role: str, max_requests: int) -> Outcome:
    """One path, one role, one simulated UTC day, in a fresh moto account."""
    import boto3

    from aws_emulator.moto_server import fixes_in_process
    from aws_emulator.template import Template
    from pregen import wiring
    from pregen.config.base import load
    from pregen.config.worker import WorkerSettings
    from pregen.domain.clock import FrozenClock, SystemClock
    from pregen.domain.spend import spent_usd
    from pregen.services.usage import day_of
    from pregen.wiring import serve as serve_wiring
    from pregen.wiring import worker as worker_wiring

    outcome = Outcome(path, role)
    day_start = (int(time.time()) // DAY + 1) * DAY  # tomorrow, 00:00 UTC
    clock = FrozenClock(float(day_start))
    with (
        Environment("moto"),
        fixes_in_process(),
        mock.patch.object(SystemClock, "now", lambda _self: clock.now()),
    ):
        template = Template(overrides={"JwtIssuer": "https://issuer.bench", "JwtAudience": "pregen"})
        resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="spend")
        env = {**template.environment(), "ANTHROPIC_API_KEY_PARAMETER": "", "BATCH_BACKGROUND": "false"}
        env |= {"CURSOR_KEY_SECRET": "", "CURSOR_KEY": "cursor-key-for-bench"}
        os.environ.update(env)
        wiring.reset()
        aws = _aws_with_one_sqs_client(resources, template, env)
        generator = _billed_generator(load(WorkerSettings).model_for)
        worker_wiring.worker_deps().generator = generator
        worker_wiring.exam_worker_deps().generator = generator
        worker_wiring.course_worker_deps().planner = generator
        serve_wiring.serve_deps()  # built under the patched clock like every other
        client = Client(aws, role, clock)
        clock.advance(-3_600)  # the seed is made the hour before the day
        seeded = _seed(client, generator) if path in ("regenerate", "votes") else []
        clock.at = float(day_start)
        outcome.budget_usd = _budget(role)
        _day_of_requests(outcome, client, seeded, day_start, max_requests)
        client.drain()
        days = [day_of(day_start - 1), day_of(day_start), day_of(day_start + DAY)]
        counters = worker_wiring.worker_deps().counters.read_days(days)
        outcome.recorded_usd = sum(spent_usd(counters.get(day, {})) for day in days)
        outcome.billed_usd = generator.billed_usd
        outcome.charged_usd = _charged(client.sub, day_start)
        outcome.calls = generator.calls
        wiring.reset()
    return outcome


def _day_of_requests(outcome: Outcome, client: Client, seeded: list[str], day_start: int, max_requests: int) -> None:
    """Loop on the path until the day ends (or the cap): an accepted request is followed by the worker draining both
    lanes and a second of the clock; a 429 or 503 moves the clock to its Retry-After; a 403 ends the path. A request
    that gave the worker nothing to do (accepted for free, or a 422) is followed by a longer pause, doubling from 1 s
    up to ``IDLE_MAX_S`` and back to 1 s as soon as a request makes work: the learner keeps coming back all day
    without thousands of free requests a simulated hour."""
    clock = client.clock
    next_topup = day_start + 3_600
    idle = 1
    while clock.now() < day_start + DAY:
        if outcome.requests >= max_requests:
            outcome.stopped = f"request cap ({max_requests})"
            return
        function, sample, arguments = REQUESTS[outcome.path](outcome.requests, seeded)
        status, headers, _ = client.call(function, sample, **arguments)
        outcome.requests += 1
        if status == 403:
            outcome.forbidden += 1
            outcome.stopped = "role may not use this path"
            return
        wait = 1
        if status in (200, 202):
            outcome.accepted += 1
            worked = client.drain()
            wait, idle = (idle, min(2 * idle, IDLE_MAX_S)) if not worked else (1, 1)
        elif status in (429, 503):
            outcome.refused_429 += status == 429
            outcome.refused_503 += status == 503
            wait = max(1, int(headers.get("retry-after", "1")))
        elif status == 422:
            outcome.refused_422 += 1
            wait, idle = idle, min(2 * idle, IDLE_MAX_S)
        else:
            outcome.other[status] = outcome.other.get(status, 0) + 1
        clock.advance(wait)
        if (
            outcome.path == "claims" and next_topup <= clock.now() < day_start + DAY
        ):  # the hourly top-up, charged to the learner
            _topup()
            client.drain()
            next_topup += 3_600
    outcome.stopped = "end of the day"


def _charged(sub: str, day_start: int) -> float:
    """What the learner's day window was charged (the limiter's item: ``pregen.adapters.limits``), in dollars."""
    import boto3

    from pregen.domain.spend import MICRO

    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=os.environ["COUNTERS_TABLE"], Key={"pk": {"S": f"limit#{sub}"}, "sk": {"S": f"day#{day_start}"}}
        )
        .get("Item", {})
    )
    return int(item.get("used", {}).get("N", "0")) / MICRO


def _topup() -> None:
    from aws_emulator.runtime import LambdaContext
    from functions.cron import app as cron
    from tests.conftest import load_event

    cron.lambda_handler(load_event("cron_inventory_topup.json"), LambdaContext(function_name="cron", timeout_s=300))


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def report(outcomes: list[Outcome], command: str, seconds: float, loads: tuple[str, str]) -> str:
    lines = [
        f"Command: `{command}` ({seconds:.0f} s on this machine, {os.cpu_count()} cores shared with other work; "
        f"load average 1 / 5 / 15 min {loads[0]} at the start, {loads[1]} at the end; moto in process, the offline "
        "generator billed at each kind's typical output on its tier, instant model latency: this measures money, "
        "not time).",
        "",
        "| path | role | requests | accepted | refused 429 / 422 / 503 | model calls | charged to the learner "
        "| cost caused (recorded) | billed | daily budget | ratio | ended by | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        refused = f"{o.refused_429} / {o.refused_422} / {o.refused_503}"
        if o.forbidden:
            refused += " (403: role)"
        if o.other:
            refused += " other: " + ", ".join(f"{s} x{n}" for s, n in sorted(o.other.items()))
        lines.append(
            f"| {o.path} | {o.role} | {o.requests} | {o.accepted} | {refused} | {o.calls} | ${o.charged_usd:,.4f} "
            f"| ${o.recorded_usd:,.4f} "
            f"| ${o.billed_usd:,.4f} | ${o.budget_usd:,.2f} | {o.ratio:.3f} | {o.stopped} | {o.seconds:.0f} |"
        )
    return "\n".join(lines)


def _run_quietly(path: str, role: str, max_requests: int) -> Outcome:
    """``run_one`` without the functions' prints, timed (in this process or a worker process of ``--processes``)."""
    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        outcome = run_one(path, role, max_requests)
    outcome.seconds = time.perf_counter() - began
    print(f"{path} {role}: {outcome} (load {_load()})", flush=True)
    return outcome


def run(args: argparse.Namespace) -> Result:
    paths = [p for p in args.paths.split(",") if p]
    roles = [r for r in args.roles.split(",") if r]
    os.environ.update(
        {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL", "POWERTOOLS_METRICS_DISABLED": "true"}
    )
    os.environ["PREGEN_LOG_LEVEL"] = "CRITICAL"
    started = time.perf_counter()
    load_at_start = _load()
    runs = [(path, role, args.max_requests) for path in paths for role in roles]
    if args.processes > 1:  # each (path, role) in a fresh process of its own moto: they share nothing
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        spawn = multiprocessing.get_context("spawn")
        heavy_first = sorted(runs, key=lambda each: each[1] != "teacher")  # a teacher's day is the longest
        with ProcessPoolExecutor(max_workers=args.processes, mp_context=spawn) as pool:
            done = dict(zip(heavy_first, pool.map(_run_quietly, *zip(*heavy_first, strict=True)), strict=True))
        outcomes = [done[each] for each in runs]
    else:
        outcomes = [_run_quietly(*each) for each in runs]
    text = report(outcomes, args.command, time.perf_counter() - started, (load_at_start, _load()))
    figures = {f"{o.path}.{o.role}": {"recorded_usd": round(o.recorded_usd, 6), "ratio": o.ratio} for o in outcomes}
    return Result(text, args.command, figures, ok=all(o.ok for o in outcomes))


def _check(args: argparse.Namespace) -> str | None:
    unknown = [p for p in args.paths.split(",") if p and p not in PATHS]
    unknown += [r for r in args.roles.split(",") if r and r not in ROLES]
    return f"unknown: {', '.join(unknown)} (paths: {', '.join(PATHS)}; roles: {', '.join(ROLES)})" if unknown else None


SCENARIO = Scenario(
    "spend_floors",
    __doc__,
    run,
    options=(
        option("--paths", default=",".join(PATHS), help="comma-separated: " + ", ".join(PATHS)),
        option("--roles", default=",".join(ROLES), help="comma-separated: " + ", ".join(ROLES)),
        option("--max-requests", dest="max_requests", type=int, default=3_000, help="a path's cap of requests"),
        option("--processes", type=int, default=1, help="run the (path, role) pairs in this many processes at once"),
    ),
    doc_file=RELIABILITY,
    check=_check,
)
