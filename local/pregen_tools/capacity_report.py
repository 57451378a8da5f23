"""``pregen capacity``: the capacity model's estimate turned into rates, limits and dollars, and printed.

Average = the day's counts spread over 24 h; peak = the busiest hour (``peak_hour_share`` of the day's requests;
generations follow the requests that cause them). Lambda concurrency is rate x duration (Little's law).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pregen.domain.pricing import default_prices
from pregen_tools.capacity import (
    AWS_LIMITS,
    AWS_PRICES,
    DAY,
    KIND_FIGURES,
    PROVIDER_SPEND_CAP,
    PROVIDER_TIERS,
    Estimate,
    Inputs,
    estimate,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

MONTH_DAYS = 30.0
# Durations (ms) and memory (MB) per function; get-content's hit is an input (--hit-ms).
MISS_MS, CHECK_MS, NAV_MS, WARM_MS, AGGREGATE_MS, POLL_MS = 60.0, 5.0, 25.0, 25.0, 60.0, 15.0
MEMORY_MB = {"get-content": 512, "navigation": 512, "warm": 512, "worker": 1024, "usage-aggregator": 512}
LOG_BYTES_API, LOG_BYTES_WORKER = 500, 2_000  # platform lines (START/END/REPORT), the hit line, Powertools lines
HITS_PER_LOG_BATCH = 100  # lines the log subscription delivers to the usage aggregator at once (at volume)
POLLS_PER_MISS = 3  # GET /v1/jobs/{id} calls while a learner waits (Retry-After 3 s)


@dataclass
class Figures:
    """Everything ``pregen capacity`` prints, per second (average and peak) or per month."""

    estimate: Estimate
    routes: dict[str, float] = field(default_factory=dict)  # requests a day by route
    invocations: dict[str, float] = field(default_factory=dict)  # a day, by function
    duration_ms: dict[str, float] = field(default_factory=dict)
    read_units: dict[str, float] = field(default_factory=dict)  # a day, by table
    write_units: dict[str, float] = field(default_factory=dict)
    sqs_messages: float = 0.0  # a day
    tokens: dict[str, dict[str, float]] = field(default_factory=dict)  # model class -> calls/input/output a day
    dollars: dict[str, float] = field(default_factory=dict)  # a month, by service
    limits: list[tuple[str, float, float]] = field(default_factory=list)  # (limit, peak use, limit)
    hot_reads_per_second: float = 0.0  # the hottest item's reads at the peak hour (its busiest minute)
    hot_table_reads_per_second: float = 0.0  # of which reach DynamoDB past the hot-key cache

    @property
    def peak_factor(self) -> float:
        """Peak-hour rate / average rate."""
        return self.estimate.inputs.peak_hour_share * 24

    def per_second(self, per_day: float, *, peak: bool = False) -> float:
        return per_day / DAY * (self.peak_factor if peak else 1.0)

    def concurrency(self, function: str, *, peak: bool = False) -> float:
        return self.per_second(self.invocations[function], peak=peak) * self.duration_ms[function] / 1000

    def gb_seconds(self, function: str) -> float:
        """A day."""
        return self.invocations[function] * self.duration_ms[function] / 1000 * MEMORY_MB[function] / 1024

    @property
    def binding(self) -> tuple[str, float, float]:
        return max(self.limits, key=lambda row: row[1] / row[2])


def model_class(kind: str, i: Inputs) -> str:
    return "large" if kind in i.large_kinds.split(",") else "small"


def figures(e: Estimate) -> Figures:
    i = e.inputs
    f = Figures(estimate=e)
    gens = e.total_generations
    f.routes = {
        "GET /v1/content": e.views,
        "GET /v1/jobs/{id}": e.misses * POLLS_PER_MISS,
        "POST /v1/warm": e.sessions if i.warming else 0.0,
        "POST /v1/events/navigation": e.moves,
        "POST /v1/exams/{type}/claim": i.learners * i.exams_per_learner_day,
    }
    interactive = gens * (1 - i.batch_share)
    f.invocations = {
        "get-content": e.views + f.routes["GET /v1/jobs/{id}"],
        "navigation": e.moves,
        "warm": f.routes["POST /v1/warm"],
        "worker": interactive + gens * i.batch_share / 10,  # batches: one invocation per 10 jobs
        "usage-aggregator": e.hits / HITS_PER_LOG_BATCH,
    }
    checks_per_nav = (e.checks - _warm_checks(e)) / e.moves if e.moves else 0.0
    warm_per_login = _warm_checks(e) / e.sessions if e.sessions and i.warming else 0.0
    hit_share = e.hits / e.views if e.views else 1.0
    f.duration_ms = {
        "get-content": hit_share * i.hit_ms + (1 - hit_share) * MISS_MS,
        "navigation": NAV_MS + CHECK_MS * checks_per_nav,
        "warm": WARM_MS + CHECK_MS * warm_per_login,
        "worker": i.generation_seconds * 1000,
        "usage-aggregator": AGGREGATE_MS,
    }
    _units(f, e)
    f.sqs_messages = gens  # one message per job; a generation is one job (promotions to a faster lane aside)
    _tokens(f, e)
    _dollars(f, e)
    _limits(f, e)
    return f


def _warm_checks(e: Estimate) -> float:
    i = e.inputs
    return e.sessions * i.subjects_per_learner * i.warm_topics * i.warm_types if i.warming else 0.0


def _mean_kb(e: Estimate) -> float:
    gens = e.total_generations or 1.0
    return sum(KIND_FIGURES[kind]["item_kb"] * n for kind, n in e.generations.items()) / gens


def _units(f: Figures, e: Estimate) -> None:
    """Request units a day per table: an eventually consistent read 0.5 per 4 KB, a consistent one 1 (markers and
    counters are small), a write 1 per KB, a transaction twice its items (content + version bodies, two counters)."""
    kb = _mean_kb(e)
    body_read = 0.5 * math.ceil(kb / 4)
    f.read_units, f.write_units = {}, {}
    for (table, op), n in e.ddb.items():
        if table.startswith("content+"):  # a key's claim, small items, twice each: the content's check and the
            # marker, the job; a learner's miss (``+counters``) also the alias's check and the allowance's count
            charged = "counters" in table.split("+")
            f.write_units["content"] = f.write_units.get("content", 0.0) + n * 2 * (3 if charged else 2)
            f.write_units["jobs"] = f.write_units.get("jobs", 0.0) + n * 2
            if charged:
                f.write_units["counters"] = f.write_units.get("counters", 0.0) + n * 2
        elif op == "read":
            f.read_units[table] = f.read_units.get(table, 0.0) + n * (body_read if table == "content" else 0.5)
        elif op == "read_sc":
            f.read_units[table] = f.read_units.get(table, 0.0) + n
        else:
            units = 2 * (2 * math.ceil(kb) + 2) if op == "txn" else 1.0
            f.write_units[table] = f.write_units.get(table, 0.0) + n * units
    # The usage aggregator: one transaction per log batch (a marker + one ADD per key in it), and the stream's day
    # counters (one transaction per stream batch, small).
    batches = e.hits / HITS_PER_LOG_BATCH
    f.write_units["content"] = f.write_units.get("content", 0.0) + batches * 2 * (1 + HITS_PER_LOG_BATCH / 2)
    f.write_units["counters"] = f.write_units.get("counters", 0.0) + batches * 2 * 2


def _tokens(f: Figures, e: Estimate) -> None:
    i = e.inputs
    for kind, n in e.generations.items():
        calls = n * i.calls_per_generation
        row = f.tokens.setdefault(model_class(kind, i), {"calls": 0.0, "input": 0.0, "output": 0.0, "cache_read": 0})
        row["calls"] += calls
        row["input"] += calls * KIND_FIGURES[kind]["input"]
        row["output"] += calls * KIND_FIGURES[kind]["output"]
        row["cache_read"] += calls * KIND_FIGURES[kind]["cache_read"]


def _dollars(f: Figures, e: Estimate) -> None:
    i = e.inputs
    p = AWS_PRICES
    month = MONTH_DAYS
    requests = sum(f.routes.values())
    gb_s = sum(f.gb_seconds(fn) for fn in f.invocations)
    stored_gb = (e.distinct_shared * 2 * _mean_kb(e)) / 1024**2
    log_gb = (sum(f.invocations.values()) * LOG_BYTES_API + e.total_generations * LOG_BYTES_WORKER) / 1024**3
    prices = default_prices()
    model = 0.0
    for kind, n in e.generations.items():
        price = prices.price(i.model_large if model_class(kind, i) == "large" else i.model_small)
        figures_ = KIND_FIGURES[kind]
        per_call = (
            figures_["input"] * price.input
            + figures_["output"] * price.output
            + figures_["cache_read"] * price.cache_read
        ) / 1e6
        discount = 1 - i.batch_share * (1 - prices.batch_discount)
        model += n * i.calls_per_generation * per_call * discount
    f.dollars = {
        "API Gateway": requests * month * p["api_per_million"] / 1e6,
        "Lambda": month * (gb_s * p["lambda_gb_s"] + sum(f.invocations.values()) * p["lambda_per_million"] / 1e6),
        "DynamoDB": month
        * (
            sum(f.read_units.values()) * p["ddb_read_unit_per_million"] / 1e6
            + sum(f.write_units.values()) * p["ddb_write_unit_per_million"] / 1e6
        )
        + stored_gb * p["ddb_gb_month"],
        "SQS": month * f.sqs_messages * 3 * p["sqs_per_million"] / 1e6,  # send, receive, delete
        "CloudWatch Logs": month * log_gb * p["logs_per_gb"],
        "Model provider": month * model,
    }


def _limits(f: Figures, e: Estimate) -> None:
    i = e.inputs
    peak = f.peak_factor
    tier = PROVIDER_TIERS[i.provider_tier]
    hot_reads = f.per_second(e.views * e.hottest_share, peak=True) * i.burst
    # With the hot-key cache an environment reads a key from the table at most once per HOT_CACHE_SECONDS, so the
    # item's table reads are capped by the environments serving it (get-content's concurrency, its burst included).
    environments = max(1.0, f.concurrency("get-content", peak=True) + hot_reads * i.hit_ms / 1000)
    table_reads = min(hot_reads, environments / i.hot_cache_seconds) if i.hot_cache_seconds > 0 else hot_reads
    hot_units = table_reads * 0.5 * math.ceil(KIND_FIGURES[e.hottest_kind]["item_kb"] / 4)
    rows: list[tuple[str, float, float]] = [
        ("API Gateway requests/s", f.per_second(sum(f.routes.values()), peak=True), AWS_LIMITS["api_rps"]),
        (
            "Lambda concurrency (account)",
            sum(f.concurrency(fn, peak=True) for fn in f.invocations),
            AWS_LIMITS["lambda_concurrency"],
        ),
        ("generations at once (lanes' MaximumConcurrency)", f.concurrency("worker", peak=True), i.lane_concurrency),
        (
            "DynamoDB content table read units/s",
            f.per_second(f.read_units.get("content", 0), peak=True),
            AWS_LIMITS["ddb_table_read_units_s"],
        ),
        (
            "DynamoDB content table write units/s",
            f.per_second(f.write_units.get("content", 0), peak=True),
            AWS_LIMITS["ddb_table_write_units_s"],
        ),
        ("hottest item read units/s (one partition)", hot_units, AWS_LIMITS["ddb_partition_read_units_s"]),
    ]
    for cls, row in f.tokens.items():
        per_min = peak * 60 / DAY
        rows += [
            (f"model requests/min ({cls}, tier {i.provider_tier})", row["calls"] * per_min, tier[cls]["rpm"]),
            (f"input tokens/min ({cls}, uncached)", row["input"] * per_min, tier[cls]["itpm"]),
            (f"output tokens/min ({cls})", row["output"] * per_min, tier[cls]["otpm"]),
        ]
    rows.append(("model spend $/month (tier cap)", f.dollars["Model provider"], PROVIDER_SPEND_CAP[i.provider_tier]))
    f.limits = rows
    f.hot_reads_per_second, f.hot_table_reads_per_second = hot_reads, table_reads


ADVICE = {
    "API Gateway": "ask for a higher HTTP API throttle quota (Service Quotas), or put a CDN in front of the reads",
    "Lambda": "ask for a higher Lambda concurrency quota; SnapStart and a lower hit duration shrink the need",
    "generations": "raise InteractiveConcurrency/BackgroundConcurrency within the provider's token budget",
    "DynamoDB content table": "ask for a higher table throughput quota, or switch the table to provisioned capacity",
    "hottest item": "the hot-key cache (HOT_CACHE_SECONDS) serves it from memory; shorten it only with care",
    "model requests": "a higher provider tier, more sharing (fewer personal items), Message Batches",
    "input tokens": "a higher provider tier; prompt caching keeps the handbook out of the input-token limit",
    "output tokens": "a higher provider tier, smaller models for more kinds, batches for background work",
    "model spend": "a higher provider tier (spend cap), more sharing, batches, smaller models",
}


def advice(limit: str) -> str:
    return next((text for prefix, text in ADVICE.items() if limit.startswith(prefix)), "")


# -- text ------------------------------------------------------------------------------------------------------------


def render(f: Figures) -> str:
    e, i = f.estimate, f.estimate.inputs
    out = [
        f"Workload: {i.learners:,} learners, {i.sessions_per_day:g} sessions and {i.views_per_day:g} views a learner "
        f"a day, peak hour {100 * i.peak_hour_share:g} % of the day, {100 * i.personal_share:g} % personal, "
        f"Zipf({i.zipf:g}) over {i.subjects} subjects x {i.topics_per_subject} topics, content lives "
        f"{i.ttl_days:g} days, warming {'on' if i.warming else 'off'}, prediction {'on' if i.prediction else 'off'}.",
        f"Hit rate {100 * e.hits / e.views:.1f} %; {e.total_generations:,.0f} generations a day "
        f"({', '.join(f'{k} {v:,.0f}' for k, v in sorted(e.generations.items()) if v)}); "
        f"{e.distinct_shared:,.0f} shared items alive ({e.unviewed:,.0f} a day generated by warming or prediction and "
        f"never viewed); the hottest item gets {100 * e.hottest_share:.2f} % of views.",
        "",
        _table(
            ["route", "req/s avg", "req/s peak"],
            [[r, _n(f.per_second(n)), _n(f.per_second(n, peak=True))] for r, n in f.routes.items()],
        ),
        "",
        _table(
            ["function", "invocations/s avg", "peak", "concurrency avg", "peak", "GB-s a month"],
            [
                [
                    fn,
                    _n(f.per_second(n)),
                    _n(f.per_second(n, peak=True)),
                    _n(f.concurrency(fn)),
                    _n(f.concurrency(fn, peak=True)),
                    _n(f.gb_seconds(fn) * MONTH_DAYS),
                ]
                for fn, n in f.invocations.items()
            ],
        ),
        "",
        _table(
            ["DynamoDB table", "read units/s avg", "peak", "write units/s avg", "peak"],
            [
                [
                    t,
                    _n(f.per_second(f.read_units.get(t, 0))),
                    _n(f.per_second(f.read_units.get(t, 0), peak=True)),
                    _n(f.per_second(f.write_units.get(t, 0))),
                    _n(f.per_second(f.write_units.get(t, 0), peak=True)),
                ]
                for t in sorted(set(f.read_units) | set(f.write_units))
            ],
        ),
        f"Hottest item: {_n(f.per_second(e.views * e.hottest_share))} reads/s avg, "
        f"{_n(f.hot_reads_per_second)} at peak, {_n(f.hot_table_reads_per_second)} of them from DynamoDB past the "
        f"hot-key cache ({i.hot_cache_seconds:g} s; {e.hottest_kind}; one partition allows "
        f"{AWS_LIMITS['ddb_partition_read_units_s']:,} read units/s).",
        f"SQS: {_n(f.per_second(f.sqs_messages))} messages/s avg, {_n(f.per_second(f.sqs_messages, peak=True))} peak.",
        "",
        _table(
            ["model class", "calls/min avg", "peak", "input tok/min peak", "output tok/min peak"],
            [
                [
                    f"{cls} ({i.model_large if cls == 'large' else i.model_small})",
                    _n(row["calls"] * 60 / DAY),
                    _n(row["calls"] * 60 / DAY * f.peak_factor),
                    _n(row["input"] * 60 / DAY * f.peak_factor),
                    _n(row["output"] * 60 / DAY * f.peak_factor),
                ]
                for cls, row in sorted(f.tokens.items())
            ],
        ),
        "",
        _table(
            ["service", "$ a month"],
            [[s, f"{d:,.0f}"] for s, d in f.dollars.items()] + [["total", f"{sum(f.dollars.values()):,.0f}"]],
        ),
        "",
        _table(
            ["limit (at the peak hour)", "use", "limit", "share"],
            [
                [name, _n(used), _n(limit), f"{100 * used / limit:.1f} %"]
                for name, used, limit in sorted(f.limits, key=lambda r: -r[1] / r[2])
            ],
        ),
    ]
    name, used, limit = f.binding
    verb = "is already past" if used > limit else "binds first, at"
    out += ["", f"Binding limit: {name} {verb} {100 * used / limit:.0f} % of its limit. What to do: {advice(name)}."]
    return "\n".join(out)


def _n(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def _table(header: Sequence[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = "  ".join(h.ljust(w) if n == 0 else h.rjust(w) for n, (h, w) in enumerate(zip(header, widths, strict=True)))
    body = [
        "  ".join(
            str(c).ljust(w) if n == 0 else str(c).rjust(w) for n, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


# -- the command line ------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per field of Inputs (``--no-warming`` for the switches)."""
    for f in dataclasses.fields(Inputs):
        flag = "--" + f.name.replace("_", "-")
        default: Any = f.default
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            kind = float if f.name == "days" else type(default)
            parser.add_argument(flag, type=kind, default=default, help=f"(default: {default})")


def inputs_from(args: argparse.Namespace) -> Inputs:
    return Inputs(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Inputs)})


def run(args: argparse.Namespace) -> str:
    if args.provider_tier not in PROVIDER_TIERS:
        raise ValueError(f"--provider-tier must be one of {', '.join(PROVIDER_TIERS)}")
    return render(figures(estimate(inputs_from(args))))
