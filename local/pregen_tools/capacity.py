"""Capacity model: what a workload costs Pregen and which limit it meets first (``pregen capacity``).

Pure arithmetic, no AWS call. From a workload (learners, sessions and views a day, the peak hour's share,
popularity, the share of personal content) it derives, per day and for the peak hour, the requests of every flow
(hit, miss, warming and prediction checks, generations), turns each flow into the DynamoDB, SQS, Lambda and model
work its code does (the *recipes* below, read off ``pregen.services``), and sets the figures against the limits
(AWS default quotas, the model provider's tier) and the prices.

Popularity is modelled the way learners use Pregen: learners open a *topic* (a skill of a subject) and walk its
steps (learn → experience → discover → assessment, ``TRANSITIONS``), viewing the step's items
(``views_per_landing``); a session starts on a topic drawn by Zipf(``zipf``) within a subject and moves on to the
next topic with the probability the transitions give. A shared item is generated once per content lifetime
(``ttl_days``) if anyone asks for it (or warming or a prediction prepares it) in that time:
P(asked) = 1 - exp(-rate x lifetime), summed over every item of the catalogue. The same model runs the workload
simulator's own workload (``bench/capacity_check.py``) and is held within 10 % of what the simulator measures
(``tests/unit/test_capacity.py``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pregen.domain.prediction import default_preload_rules

if TYPE_CHECKING:
    from pregen.domain.prediction import PreloadRules

DAY = 86_400.0
STEPS = ("learn", "experience", "discover", "assessment")
STEP_KIND = {"learn": "lesson", "experience": "question_set", "discover": "lesson", "assessment": "question_set"}

# Where a learner goes after each step (None: the session ends) -- the workload simulator's learners
# (bench/simulate.py) and the model's default. learn -> experience 0.86 and experience -> discover 0.76 clear their
# preload rules' confidence (0.8, 0.7); the probabilities of *reaching* a step follow from these.
TRANSITIONS: dict[str, dict[str | None, float]] = {
    "learn": {"experience": 0.86, "next_skill": 0.07, None: 0.07},
    "experience": {"discover": 0.76, "assessment": 0.16, None: 0.08},
    "discover": {"assessment": 0.80, "next_skill": 0.10, None: 0.10},
    "assessment": {"next_skill": 0.60, None: 0.40},
}


def views_per_landing(noise: float) -> dict[str, tuple[float, ...]]:
    """Expected views of each item index of a step per landing there: the expectation of the simulator's
    ``_views`` (learn: lesson 1, lesson 2 half the time; experience: 1-3 sets; discover: one style, mostly the
    first; assessment: set 1, set 2 40 % of the time; with probability ``noise`` one more item past the usual)."""
    return {
        "learn": (1.0, 0.5, noise / 3, noise / 3, noise / 3),
        "experience": (1.0, 2 / 3, 1 / 3, noise / 2, noise / 2),
        "discover": (0.6, 0.3, 0.1, noise),
        "assessment": (1.0, 0.4, noise / 3, noise / 3, noise / 3),
    }


# -- prices and limits (list prices, us-east-1, on-demand; every figure can be overridden in Inputs) ---------------

AWS_PRICES = {
    "api_per_million": 1.00,  # HTTP API, first 300 M requests a month
    "lambda_gb_s": 0.0000133334,  # arm64
    "lambda_per_million": 0.20,
    "ddb_read_unit_per_million": 0.125,  # on-demand read request units
    "ddb_write_unit_per_million": 0.625,  # on-demand write request units
    "ddb_gb_month": 0.25,
    "sqs_per_million": 0.40,  # standard queues, per 64 KB request
    "logs_per_gb": 0.50,  # CloudWatch Logs ingestion
}
AWS_LIMITS = {
    "api_rps": 10_000,  # HTTP API account throttle per region (adjustable)
    "lambda_concurrency": 1_000,  # account concurrency quota per region (adjustable; new accounts may start lower)
    "ddb_table_read_units_s": 40_000,  # on-demand table throughput quota (adjustable)
    "ddb_table_write_units_s": 40_000,
    "ddb_partition_read_units_s": 3_000,  # one partition key's item: a hard limit, not adjustable
    "ddb_partition_write_units_s": 1_000,
}
# The model provider's tiers: requests, uncached input and output tokens per minute (per model class), and the
# monthly spend cap, as Anthropic published them for its Sonnet and Haiku classes. Tiers change: check the console.
PROVIDER_TIERS: dict[str, dict[str, dict[str, float]]] = {
    "1": {"large": {"rpm": 50, "itpm": 30_000, "otpm": 8_000}, "small": {"rpm": 50, "itpm": 50_000, "otpm": 10_000}},
    "2": {
        "large": {"rpm": 1_000, "itpm": 450_000, "otpm": 90_000},
        "small": {"rpm": 1_000, "itpm": 450_000, "otpm": 90_000},
    },
    "3": {
        "large": {"rpm": 2_000, "itpm": 800_000, "otpm": 160_000},
        "small": {"rpm": 2_000, "itpm": 1_000_000, "otpm": 200_000},
    },
    "4": {
        "large": {"rpm": 4_000, "itpm": 2_000_000, "otpm": 400_000},
        "small": {"rpm": 4_000, "itpm": 4_000_000, "otpm": 800_000},
    },
}
PROVIDER_SPEND_CAP = {"1": 100.0, "2": 500.0, "3": 1_000.0, "4": 5_000.0}  # US dollars a month

# What one generation of a kind takes: output tokens (bench/cost.py: a lesson 1,800, 160 a question plus 200),
# uncached input (the request; the ~3,600-token handbook is a cache read), and the stored item's size.
KIND_FIGURES: dict[str, dict[str, float]] = {
    "lesson": {"output": 1_800, "input": 400, "cache_read": 3_600, "item_kb": 6},
    "question_set": {"output": 1_200, "input": 400, "cache_read": 3_600, "item_kb": 4},
    "personal": {"output": 1_200, "input": 600, "cache_read": 3_600, "item_kb": 4},
    "exam": {"output": 11_560, "input": 500, "cache_read": 3_600, "item_kb": 75},
}

# -- the recipes: DynamoDB requests per flow, as the services make them --------------------------------------------
#
# (table, operation) per event; operation: read (eventually consistent GetItem, BatchGetItem, Query), read_sc
# (consistent), write (Put/Update/Delete), txn (a TransactWriteItems: twice the write units of its items). Measured,
# not read off the code: ``python -m bench requests`` counts every request each flow makes and fails when a recipe
# here differs from its count (docs/BENCHMARKS.md, "requests"; tests/integration/test_requests_bench.py).
Recipe = dict[tuple[str, str], float]
RECIPES: dict[str, Recipe] = {
    # serve_content: one GetItem of the content
    "hit": {("content", "read"): 1},
    # serve_content miss, enqueue_or_join won: the content's read, then one transaction (``content+counters+jobs``)
    # that checks the content and the wording's near-duplicate alias, claims the key, records the job and counts the
    # learner's allowance (plus the SQS send). The daily spend's read (one BatchGetItem) is made at most once per
    # 30 s per environment: not counted per miss. The miss itself is a log line, added to the day's counters in
    # batches by the usage aggregator
    "miss": {("content", "read"): 1, ("content+counters+jobs", "txn"): 1},
    # a miss on a key in flight: the content, then the same transaction, cancelled on the marker, which names the job
    # (no read, nothing written: no charge to the allowance, joining generates nothing)
    "join": {("content", "read"): 1, ("content+counters+jobs", "txn"): 1},
    # pregenerate() per item (warming, prediction): one GetItem; the uncached ones enqueue as a miss does (the
    # caller's allowance: one update per batch, 0.1 a key in a batch of 10)
    "check": {("content", "read"): 1},
    "enqueue": {("content+jobs", "txn"): 1, ("counters", "write"): 0.1},
    # navigation: the scope's counts are read on landings that have rules (learn, experience), the move is written
    "nav_read": {("navigation", "read"): 1},
    "nav_write": {("navigation", "write"): 1},
    # generate_job, a first delivery (bench requests: 5 around the model call, issue 34's floor): the provider
    # budget's take and settle, one transaction that checks the content, takes the lease and marks the job, the
    # near-duplicates bucket's Query, and one transaction that stores the content and its version, ends the job
    # and the lease and adds the counters. The day's spend read (the ceiling) is an environment's first in 10 s
    "generation": {
        ("counters", "write"): 2,
        ("content+jobs", "txn"): 1,
        ("content", "read"): 1,
        ("content+counters+jobs", "txn"): 1,
    },
}


@dataclass(frozen=True)
class Inputs:
    """Every input of the model; ``pregen capacity`` has a flag for each (the defaults are docs/operations.md's)."""

    learners: int = 1_000_000
    sessions_per_day: float = 1.0
    views_per_day: float = 20.0  # content views per learner a day
    peak_hour_share: float = 0.12  # share of a day's traffic in its busiest hour
    personal_share: float = 0.02  # share of views asking for personal content (one learner's own)
    personal_views_per_item: float = 2.0  # views of a personal item over its life (generated once, for one learner)
    subjects: int = 100  # groups of topics of equal popularity (grade x subject)
    topics_per_subject: int = 60  # skills a subject
    zipf: float = 1.1  # popularity skew of a session's first topic within a subject
    assigned_views_per_day: float = 0.0  # views a learner makes a day of one item everyone is given (a daily task)
    burst: float = 1.0  # the hottest item's busiest minute / the peak hour's average (a class opening it at once)
    hot_cache_seconds: float = 5.0  # HOT_CACHE_SECONDS: an environment reads a shared key at most once per this
    noise: float = 0.05  # share of step landings that view one item past the usual ones
    ttl_days: float = 30.0  # content lifetime: a shared item is generated once per lifetime if anyone asks
    warming: bool = True
    prediction: bool = True
    warm_topics: int = 5  # first topics of a subject that warming prepares (warming.json: 5 skills)
    warm_types: int = 3  # question types warmed per topic (the first experience items)
    subjects_per_learner: float = 2.5  # subjects warmed at each login
    exams_per_learner_day: float = 0.0  # personal exams claimed a day (inventory), on the large model
    batch_share: float = 0.1  # share of generations sent as Message Batches (half price)
    calls_per_generation: float = 1.1  # model calls per stored item (re-asks; bench.cost measured 1.096)
    model_small: str = "claude-haiku-5-5"
    model_large: str = "claude-sonnet-5-5"
    large_kinds: str = "exam"  # kinds on the large model, comma-separated (MODEL_TIERS); the rest on the small one
    provider_tier: str = "4"
    generation_seconds: float = 10.0  # one generation's duration in the worker (model latency)
    lane_concurrency: int = 100  # the lanes' MaximumConcurrency summed: generations at once
    hit_ms: float = 15.0  # get-content's duration on a hit (the rest: see _DURATIONS)
    days: float | None = None  # None: steady state (items regenerated every lifetime); else a cold start of N days

    @property
    def views_per_session(self) -> float:
        return self.views_per_day / self.sessions_per_day


@dataclass(frozen=True)
class Popularity:
    """The topic structure derived from the transitions: landings per topic visit, the chance of moving on, and per
    item of a topic its views and preload triggers per topic visit."""

    landings: dict[str, float]
    moves_on: float
    items: list[tuple[str, int, float, float]]  # (step, index, views per visit, prepares per visit)
    prepares_next: float  # learn items of the *next* topic prepared per visit (the next-skill rule, when it fires)
    checks_per_visit: float  # pregenerate() checks per topic visit (every firing rule's items)
    nav_reads_per_visit: float

    @property
    def views_per_visit(self) -> float:
        return sum(v for _, _, v, _ in self.items)


def popularity(
    noise: float, rules: PreloadRules | None = None, transitions: dict[str, dict[str | None, float]] | None = None
) -> Popularity:
    """Landings per topic visit from the transitions, and which preload rules fire: a rule fires when the share of
    learners on ``from`` who reach ``to`` clears its confidence (what the transition model learns, after its
    first ``min_visits``)."""
    moves = transitions or TRANSITIONS
    rules = rules or default_preload_rules()
    landings = dict.fromkeys(STEPS, 0.0)
    landings["learn"] = 1.0
    moves_on = 0.0
    for step in STEPS:  # the steps only move forward: one pass in order
        for target, p in moves[step].items():
            if target == "next_skill":
                moves_on += landings[step] * p
            elif target is not None:
                landings[target] += landings[step] * p
    views = views_per_landing(noise)
    prepares: dict[tuple[str, int], float] = defaultdict(float)
    prepares_next = checks = 0.0
    from_steps = set()
    for rule in rules.rules:
        origin, target = rule.origin.value, rule.target.value
        from_steps.add(origin)
        if _reach(origin, target, moves) < rule.confidence:
            continue
        checks += landings[origin] * rule.items
        if target == "next_skill":
            prepares_next += landings[origin]
            continue
        for index in range(rule.items):
            prepares[(target, index)] += landings[origin]
    items = [
        (step, index, landings[step] * v, prepares[(step, index)])
        for step in STEPS
        for index, v in enumerate(views[step])
    ]
    return Popularity(
        landings=landings,
        moves_on=moves_on,
        items=items,
        prepares_next=prepares_next,
        checks_per_visit=checks,
        nav_reads_per_visit=sum(landings[s] for s in from_steps),
    )


def _reach(origin: str, target: str, moves: dict[str, dict[str | None, float]]) -> float:
    """P(a learner landing on ``origin`` reaches ``target`` before leaving the topic)."""
    here = dict.fromkeys([*STEPS, "next_skill"], 0.0)
    here[origin] = 1.0
    for step in STEPS[STEPS.index(origin) :]:
        for nxt, p in moves[step].items():
            if nxt is not None:
                here[nxt] += here[step] * p
    return here[target]


def topic_visits(topics: int, zipf: float, moves_on: float) -> list[float]:
    """Expected visits of each topic rank per session started in its subject: the first topic by Zipf, then on to
    the next with probability ``moves_on`` (so the sum is the topics a session visits)."""
    first = [1 / rank**zipf for rank in range(1, topics + 1)]
    total = sum(first)
    visits, carried = [], 0.0
    for share in first:
        carried = carried * moves_on + share / total
        visits.append(carried)
    return visits


# -- the estimate ----------------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    """Per day (and the peak hour where it says so), for the inputs."""

    inputs: Inputs
    views: float = 0.0
    hits: float = 0.0
    misses: float = 0.0  # views that waited for a generation (first views of items nothing prepared)
    sessions: float = 0.0
    moves: float = 0.0
    checks: float = 0.0
    generations: dict[str, float] = field(default_factory=dict)  # by kind
    unviewed: float = 0.0  # shared items generated (warming, predictions) that nobody viewed
    distinct_shared: float = 0.0  # shared items alive at once (the catalogue in use)
    hottest_share: float = 0.0  # the most viewed item's share of views
    hottest_kind: str = "lesson"
    ddb: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))  # (table, op) -> a day

    @property
    def total_generations(self) -> float:
        return sum(self.generations.values())

    @property
    def model_calls(self) -> float:
        return self.total_generations * self.inputs.calls_per_generation

    def ddb_requests(self, op: str | None = None) -> float:
        return sum(n for (_, o), n in self.ddb.items() if op is None or o.startswith(op))


def estimate(i: Inputs, pop: Popularity | None = None) -> Estimate:
    """The counts of a day of the workload (``days`` set: of a cold start of that many days, in total)."""
    pop = pop or popularity(i.noise)
    period = i.days if i.days is not None else 1.0
    window = i.days if i.days is not None else i.ttl_days  # how long a generated item serves
    e = Estimate(inputs=i)
    e.sessions = i.learners * i.sessions_per_day * period
    e.views = i.learners * i.views_per_day * period
    shared_views = e.views * (1 - i.personal_share)
    visits = shared_views / pop.views_per_visit  # topic visits in the period
    ranks = topic_visits(i.topics_per_subject, i.zipf, pop.moves_on)
    per_rank = [v / sum(ranks) * visits / i.subjects * (window / period) for v in ranks]  # visits per window
    shared = _shared_items(i, pop, per_rank)
    generated, viewed, missed, hottest = shared.generated, shared.viewed, shared.missed, shared.hottest
    scale = i.subjects * period / window  # items of one subject per window -> all subjects per period
    shared_made = generated * scale
    e.distinct_shared = generated * i.subjects
    e.unviewed = (generated - viewed) * scale
    e.hottest_share = hottest[0] * (period / window) / e.views if e.views else 0.0
    if i.assigned_views_per_day / i.views_per_day > e.hottest_share:
        e.hottest_share, hottest = i.assigned_views_per_day / i.views_per_day, (0.0, "lesson")
    e.hottest_kind = hottest[1]
    personal_views = e.views * i.personal_share
    personal_made = personal_views / i.personal_views_per_item
    e.generations = {kind: n * scale for kind, n in shared.by_kind.items()}
    e.generations["personal"] = personal_made
    exams = i.learners * i.exams_per_learner_day * period
    if exams:
        e.generations["exam"] = exams
    # A personal item is prepared ahead (inventory, prediction) when prediction is on; else its first view waits.
    personal_missed = 0.0 if i.prediction else personal_made
    e.misses = missed * scale + personal_missed
    e.hits = e.views - e.misses
    e.moves = visits * sum(pop.landings.values()) if i.prediction else 0.0
    warm_checks = e.sessions * i.subjects_per_learner * i.warm_topics * i.warm_types if i.warming else 0.0
    catalogued_visits = sum(ranks[: i.warm_topics]) / sum(ranks)  # preloads check keys only for catalogue topics
    e.checks = warm_checks + (visits * catalogued_visits * pop.checks_per_visit if i.prediction else 0.0)
    generations = e.total_generations
    prepared = max(0.0, shared_made - (missed * scale)) + (0.0 if not i.prediction else personal_made)
    _add(e.ddb, "hit", e.hits)
    _add(e.ddb, "miss", e.misses)
    _add(e.ddb, "check", e.checks)
    _add(e.ddb, "enqueue", min(prepared, e.checks))
    _add(e.ddb, "generation", generations)
    if i.prediction:
        _add(e.ddb, "nav_read", visits * pop.nav_reads_per_visit)
        _add(e.ddb, "nav_write", e.moves)
    return e


@dataclass
class _Shared:
    """Shared items of one subject over one lifetime: generated, viewed, first views that waited, by kind."""

    generated: float = 0.0
    viewed: float = 0.0
    missed: float = 0.0
    by_kind: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    hottest: tuple[float, str] = (0.0, "lesson")  # (views, kind) of the most viewed item


def _shared_items(i: Inputs, pop: Popularity, per_rank: list[float]) -> _Shared:
    """P(an item is asked for in its lifetime) = 1 - exp(-rate): by a view, or by a prediction that prepares it
    (then its first view is a hit); warmed items are made whatever asks."""
    out = _Shared()
    for rank, lam in enumerate(per_rank):
        warmed_topic = i.warming and rank < i.warm_topics
        # Predictions prepare only what the warming catalogue names (its first topics): a preload never generates
        # from text a learner's event made up.
        catalogued = rank < i.warm_topics
        before = per_rank[rank - 1] if rank else 0.0
        for step, index, v, p in pop.items:
            seen = 1 - math.exp(-lam * v)
            prepare_rate = (lam * p + (before * pop.prepares_next if step == "learn" and index == 0 else 0.0)) * (
                1.0 if i.prediction and catalogued else 0.0
            )
            warmed = warmed_topic and step == "experience" and index < i.warm_types
            made = 1.0 if warmed else 1 - math.exp(-max(lam * v, prepare_rate))
            ready_first = warmed or prepare_rate >= lam * v > 0
            out.generated += made
            out.viewed += seen
            out.missed += 0.0 if ready_first else seen
            out.by_kind[STEP_KIND[step]] += made
            if lam * v > out.hottest[0]:
                out.hottest = (lam * v, STEP_KIND[step])
    return out


def _add(counts: dict[tuple[str, str], float], recipe: str, times: float) -> None:
    for op, n in RECIPES[recipe].items():
        counts[op] += n * times


def with_overrides(base: Inputs, **changes: object) -> Inputs:
    """``base`` with the given fields changed (None leaves a field as it is)."""
    return replace(base, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
