"""The capacity model against the workload simulator: the same workload, counted by both, side by side.

    .venv/bin/python -m bench capacity_check [--learners 1000] [--days 7] [--seed 7] [--write]

The simulator (``bench/simulate.py``, scenario (c): warming + prediction) runs Pregen's own services on the
in-memory ports; here every port call is counted and mapped to the DynamoDB request the DynamoDB adapter makes for
it (one request per call: ``PORT_OPS``). The model (``pregen_tools.capacity``) gets the simulator's workload as
inputs -- learners, sessions, days, skills, Zipf, noise, the warming configuration -- never its results.
``--write`` puts the table in docs/CAPACITY.md.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

from bench import simulate
from bench.harness import Result, Scenario, option
from pregen_tools.capacity import DAY, Estimate, Inputs, estimate

DOC = Path(__file__).resolve().parents[1] / "docs" / "CAPACITY.md"

# Port method -> (table, operation) of the request the DynamoDB adapter makes for it.
PORT_OPS: dict[tuple[str, str], tuple[str, str]] = {
    ("content", "get_content"): ("content", "read"),
    ("content", "get_content/consistent"): ("content", "read_sc"),
    ("content", "get_inflight"): ("content", "read_sc"),
    ("content", "put_content"): ("content", "txn"),
    ("claims", "claim"): ("content+jobs", "txn"),
    ("jobs", "get_job"): ("jobs", "read"),
    ("transitions", "read"): ("navigation", "read"),
    ("transitions", "record"): ("navigation", "write"),
    # a generation's writes around its model call: a transaction each (pregen.adapters.finish)
    ("writes", "lease_fresh"): ("content+jobs", "txn"),
    ("writes", "lease"): ("content+jobs", "txn"),
    ("writes", "finish"): ("content+counters+jobs", "txn"),
}
_WRITES = {"content": "content", "jobs": "jobs", "counters": "counters"}


class Counted:
    """A port whose method calls are counted (``get_content`` split by consistency)."""

    def __init__(self, name: str, inner: Any, calls: Counter[tuple[str, str]]) -> None:
        self._name, self._inner, self._calls = name, inner, calls

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._inner, attr)
        if not callable(target):
            return target

        def counted(*args: Any, **kwargs: Any) -> Any:
            method = f"{attr}/consistent" if kwargs.get("consistent") else attr
            self._calls[(self._name, method)] += 1
            return target(*args, **kwargs)

        return counted


def requests(calls: Counter[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(table, operation) -> DynamoDB requests, from the counted port calls."""
    result: Counter[tuple[str, str]] = Counter()
    for (port, method), n in calls.items():
        op = PORT_OPS.get((port, method)) or (_WRITES[port], "read" if method.startswith("read") else "write")
        result[op] += n
    return result


@dataclass
class Measured:
    views: int
    hits: int
    generations: int
    model_calls: int
    ddb: Counter[tuple[str, str]]
    sessions: int
    seconds: float

    def ddb_requests(self, op: str | None = None) -> float:
        return sum(n for (_, o), n in self.ddb.items() if op is None or o.startswith(op))


def run_simulator(p: simulate.Params) -> Measured:
    """Scenario (c) of the simulator with every port call counted."""
    import logging

    from pregen import usage_log

    # Quiet while it runs (a simulated day logs every hit), and as it was afterwards: a test may call this.
    log = logging.getLogger("pregen")
    level = log.level
    log.setLevel(logging.WARNING)
    sink = usage_log.set_sink(lambda line: None)
    calls: Counter[tuple[str, str]] = Counter()
    original = simulate._ports

    def counted_ports(backend: str, clock: Any) -> dict[str, Any]:
        return {name: Counted(name, port, calls) for name, port in original(backend, clock).items()}

    simulate._ports = counted_ports
    try:
        started = time.perf_counter()
        actions, _ = simulate.build_workload(p)
        sim = simulate.Simulation("pregen", p, "memory")
        result = sim.run(actions)
    finally:
        simulate._ports = original
        usage_log.set_sink(sink)
        log.setLevel(level)
    return Measured(
        views=result.views,
        hits=result.hits,
        generations=result.generations,
        model_calls=sum(sim.generator.calls.values()),
        ddb=requests(calls),
        sessions=sum(1 for a in actions if a.kind == "login"),
        seconds=time.perf_counter() - started,
    )


def model_inputs(p: simulate.Params) -> Inputs:
    """The simulator's workload as the model's inputs (its definition, not its results)."""
    from pregen.domain.warming import default_warming_config

    subjects = default_warming_config().grades[simulate.GRADE].subjects.values()
    first = next(iter(subjects))
    sessions_per_day = p.sessions / 7
    inputs = Inputs(
        learners=p.learners,
        sessions_per_day=sessions_per_day,
        views_per_day=1.0,  # replaced below: the views a session makes follow from the topic walk
        personal_share=0.0,
        subjects=len(list(subjects)),
        topics_per_subject=p.skills,
        zipf=p.zipf,
        noise=p.noise,
        warm_topics=len(first.skills),
        warm_types=len(first.question_types),
        subjects_per_learner=2.5,  # each learner takes 2 or 3 subjects
        calls_per_generation=1.0,  # the simulator's generator never fails
        days=p.days,
    )
    return sessions_to_views(inputs)


def sessions_to_views(inputs: Inputs) -> Inputs:
    """Views a day implied by sessions a day and the topic walk: a session visits 1 / (1 - moves on) topics (fewer
    when it runs off the end of the subject), and the simulator ends a session after ``MAX_LANDINGS`` steps."""
    from pregen_tools.capacity import popularity, topic_visits, with_overrides

    pop = popularity(inputs.noise)
    topics = sum(topic_visits(inputs.topics_per_subject, inputs.zipf, pop.moves_on))
    landings = topics * sum(pop.landings.values())
    per_session = topics * pop.views_per_visit * capped_landings(MAX_LANDINGS) / landings
    return with_overrides(inputs, views_per_day=inputs.sessions_per_day * per_session)


MAX_LANDINGS = 15  # bench/simulate.py build_workload: a session walks at most 15 steps


def capped_landings(cap: int) -> float:
    """Expected step landings of a session walking ``TRANSITIONS`` for at most ``cap`` landings."""
    from pregen_tools.capacity import STEPS, TRANSITIONS

    at = dict.fromkeys(STEPS, 0.0)
    at["learn"] = 1.0
    total = 0.0
    for _ in range(cap):
        total += sum(at.values())
        nxt = dict.fromkeys(STEPS, 0.0)
        for step, p in at.items():
            for target, q in TRANSITIONS[step].items():
                if target is not None:
                    nxt["learn" if target == "next_skill" else target] += p * q
        at = nxt
    return total


ROWS = [
    ("sessions", lambda m: m.sessions, lambda e: e.sessions),
    ("views", lambda m: m.views, lambda e: e.views),
    ("hits (served without waiting)", lambda m: m.hits, lambda e: e.hits),
    ("views that waited (misses)", lambda m: m.views - m.hits, lambda e: e.misses),
    ("generations", lambda m: m.generations, lambda e: e.total_generations),
    ("model calls", lambda m: m.model_calls, lambda e: e.model_calls),
    ("DynamoDB reads", lambda m: m.ddb_requests("read"), lambda e: e.ddb_requests("read")),
    (
        "DynamoDB writes",
        lambda m: m.ddb_requests("write") + m.ddb_requests("txn"),
        lambda e: e.ddb_requests("write") + e.ddb_requests("txn"),
    ),
    ("DynamoDB requests", lambda m: m.ddb_requests(), lambda e: e.ddb_requests()),
]


def compare(measured: Measured, model: Estimate) -> list[tuple[str, float, float, float]]:
    """(figure, simulator, model, model / simulator - 1) per row."""
    rows = []
    for name, sim_value, model_value in ROWS:
        s, m = float(sim_value(measured)), float(model_value(model))
        rows.append((name, s, m, m / s - 1 if s else float("nan")))
    return rows


def report(p: simulate.Params, rows: list[tuple[str, float, float, float]], measured: Measured) -> str:
    command = f".venv/bin/python -m bench capacity_check --learners {p.learners} --days {p.days:g} --seed {p.seed}"
    lines = [
        f"Command: `{command} --write`",
        "",
        f"Workload: the simulator's (`bench/simulate.py`, scenario (c), warming + prediction, in-memory ports): "
        f"{p.learners} learners, {p.sessions:g} sessions a week each, {p.days:g} days, {p.skills} skills a subject, "
        f"Zipf({p.zipf:g}), noise {p.noise:g}; the simulator ran in {measured.seconds:.1f} s.",
        "",
        "| figure | simulator (measured) | model (predicted) | model vs simulator |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {s:,.0f} | {m:,.0f} | {100 * d:+.1f} % |" for name, s, m, d in rows]
    return "\n".join(lines)


SCALES = (10_000, 100_000, 1_000_000, 10_000_000)


def scales_table() -> str:
    """``pregen capacity`` at the four scales of docs/CAPACITY.md, with every other input at its default."""
    from pregen_tools.capacity_report import figures

    lines = [
        "Command: `.venv/bin/python -m bench capacity_check --write` (each row: `pregen capacity --learners N`, "
        "every other input at its default)",
        "",
        "| learners | views/s avg / peak | hit rate | generations a day | Lambda concurrency (peak) "
        "| content table read units/s (peak) | output tokens/min (peak) | $ a month: model / AWS | binds first "
        "| next |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for learners in SCALES:
        f = figures(estimate(Inputs(learners=learners)))
        e = f.estimate
        ranked = sorted(f.limits, key=lambda row: -row[1] / row[2])
        otpm = sum(row["output"] for row in f.tokens.values()) * 60 / DAY * f.peak_factor
        aws = sum(v for k, v in f.dollars.items() if k != "Model provider")
        lines.append(
            f"| {learners:,} | {f.per_second(e.views):,.1f} / {f.per_second(e.views, peak=True):,.0f} "
            f"| {100 * e.hits / e.views:.1f} % | {e.total_generations:,.0f} "
            f"| {sum(f.concurrency(fn, peak=True) for fn in f.invocations):,.0f} "
            f"| {f.per_second(f.read_units['content'], peak=True):,.0f} | {otpm:,.0f} "
            f"| {f.dollars['Model provider']:,.0f} / {aws:,.0f} "
            + "".join(f"| {name}: {100 * used / limit:,.0f} % " for name, used, limit in ranked[:2])
            + "|"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> Result:
    p = simulate.Params(learners=args.learners, days=args.days, seed=args.seed)
    measured = run_simulator(p)
    rows = compare(measured, estimate(model_inputs(p)))
    text = report(p, rows, measured)
    scales = scales_table()
    sections = {
        "scales": "## Four scales\n\n" + scales,
        "simulator": "## The model against the simulator\n\n" + text,
    }
    figures = {name: {"measured": m, "model": e} for name, m, e, _ in rows}
    return Result(text + "\n\n" + scales, args.command, figures, sections=sections, doc=DOC)


SCENARIO = Scenario(
    "capacity_check",
    __doc__,
    run,
    options=(
        option("--learners", type=int, default=1000),
        option("--days", type=float, default=7),
        option("--seed", type=int, default=7),
    ),
    doc_file=DOC,
)
