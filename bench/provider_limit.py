"""The provider budget's floors (issue 32), in one in-process run: the worker's admission (``TokenBudgetAdmission``,
the shared budget in DynamoDB under moto, one bucket item per model refilled continuously) and its real generator
(the Anthropic SDK with its ``RateLimitReader``) against the fake provider on loopback enforcing a small tier, with
the latency model at a scale. Worker threads stand for Lambda environments: each takes a unit, asks the admission,
hands it back with the budget's delay (an SQS re-send) or generates it, and settles.

    python -m bench provider_limit [--otpm 60000] [--learners 100] [--latency scale:0.25] [--write]

Three phases, each with a fresh fake (its buckets full) and a fresh budget:

1. demand above the tier: ``--learners`` lesson misses at once (interactive lane, ``--workers`` threads); achieved
   output tokens a minute while there is demand against the tier, 429s per 1,000 calls, every miss served;
2. learners first: one learner's miss on an idle system, then the same while background lessons saturate the tier
   (their lane's share); the ratio of the two times;
3. five environments at once, each its own budget object (its own controller) on the one table: the lowest level
   of the shared bucket (below empty: over the tier), in calls of one reservation, and the provider's 429s.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

from bench.cost import generator
from bench.harness import Result, Scenario, option
from pregen import provider_signals
from pregen.domain.model_time import ModelLatency
from pregen.domain.models import ContentRequest, Kind, Lane
from pregen.domain.provider_limits import WINDOW_S, ProviderAnswer, Spend
from pregen.domain.work_budget import MAX_TOKENS, Estimate
from pregen.services.lifecycle import Delivery, TimeAdmission
from pregen.services.provider_budget import ProviderBudget, TokenBudgetAdmission
from pregen_fakes.fake_anthropic import Tier, running_fake_anthropic

if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping

    from pregen.adapters.provider_budget import DynamoProviderBudget
    from pregen_fakes.fake_anthropic import FakeAnthropic

SECTION = "provider_limit"
MODEL = "claude-haiku-5-5"  # the small tier's model: lessons go to it
LESSON_TOKENS = 1_800  # a real lesson's output (bench.cost.answer_tokens); the call reserves MAX_TOKENS[lesson]
RESERVATION = MAX_TOKENS[Kind.LESSON]
INPUT_TPM = 4_000_000  # input tokens and requests are not what this run limits: output tokens are
RPM = 2_000


class _Clock:
    def now(self) -> float:
        return time.time()


@dataclass
class Unit:
    request: ContentRequest
    lane: Lane
    arrived: float = field(default_factory=time.time)
    done: float | None = None
    output_tokens: int = 0


class LaneQueue:
    """A lane's queue: units become visible at their ``ready_at`` (a hand-back is a re-send with a delay)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Unit]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self.stopped = False

    def put(self, unit: Unit, ready_at: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (ready_at, next(self._seq), unit))
            self._cond.notify()

    def get(self) -> Unit | None:
        with self._cond:
            while not self.stopped:
                now = time.time()
                if self._heap and self._heap[0][0] <= now:
                    return heapq.heappop(self._heap)[2]
                self._cond.wait(min(0.5, self._heap[0][0] - now) if self._heap else 0.5)
            return None

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self._cond.notify_all()


class _Router:
    """Each worker thread's answers go to its own environment's budget, as in Lambda (one process each); the
    budgets' own registrations are replaced by this one."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __call__(self, answer: ProviderAnswer) -> None:
        budget = getattr(self.local, "budget", None)
        if budget is not None:
            budget.observe(answer)


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    handed_back: int = 0
    failed_deliveries: int = 0
    served: list[Unit] = field(default_factory=list)


class _PeakStore:
    """The DynamoDB adapter, with the shared bucket read back (consistently) after each change: its lowest level."""

    def __init__(self, inner: DynamoProviderBudget, capacity: Spend) -> None:
        self.inner, self.capacity = inner, capacity
        self.lowest = float(capacity.output_tokens)
        self.takes = 0

    def _watch(self, model: str) -> None:
        level = self.inner.bucket(model).level(self.capacity, time.time()).output_tokens
        self.lowest = min(self.lowest, level)

    def take(self, model: str, need: Spend, room: Spend, capacity: Spend, now: float) -> float:
        wait = self.inner.take(model, need, room, capacity, now)
        self.takes += wait == 0
        self._watch(model)
        return wait

    def give(self, model: str, delta: Spend, capacity: Spend) -> None:
        self.inner.give(model, delta, capacity)
        self._watch(model)

    def add(self, model: str, window: int, delta: Spend, counts: Mapping[str, int], now: float) -> None:
        self.inner.add(model, window, delta, counts, now)


def _lesson(i: int, tag: str) -> ContentRequest:
    return ContentRequest.model_validate(
        {"kind": "lesson", "subject": "Physics", "grade": "9", "topic": f"{tag}-{i}", "lesson_number": 1 + i % 12}
    )


class Rig:
    """One phase's world: a moto table, the fake enforcing the tier, and environments (budget + generator)."""

    def __init__(self, fake: FakeAnthropic, table: str, tier: Spend, router: _Router, dynamodb: Any) -> None:
        self.fake, self.table, self.tier, self.router, self.dynamodb = fake, table, tier, router, dynamodb
        self.stats = Stats()

    def environment(self, store: Any) -> tuple[ProviderBudget, TokenBudgetAdmission, Any]:
        budget = ProviderBudget(store, _Clock(), {MODEL: self.tier}, self.tier, interactive_share=0.3)
        provider_signals.forget(budget.observe)
        gen = generator(self.fake, lambda _: MODEL, cached=True)
        return budget, TokenBudgetAdmission(budget=budget, then=TimeAdmission()), gen

    def worker(self, env: tuple[ProviderBudget, TokenBudgetAdmission, Any], queue: LaneQueue) -> None:
        budget, admission, gen = env
        self.router.local.budget = budget
        estimate = Estimate.of(MODEL, RESERVATION, calls=1)
        while (unit := queue.get()) is not None:
            decision = admission.admit("content", estimate, Delivery(1, "bench", unit.lane))
            if decision.action == "hand_back":
                with self.stats.lock:
                    self.stats.handed_back += 1
                queue.put(unit, time.time() + decision.after_s)
                continue
            try:
                generation = gen.generate(unit.request, max_calls=3)
            except Exception:  # a 429 past the SDK's retries: the delivery fails, SQS re-sends it later
                with self.stats.lock:
                    self.stats.failed_deliveries += 1
                queue.put(unit, time.time() + 5)
                continue
            finally:
                if decision.settle is not None:
                    decision.settle()
            unit.done, unit.output_tokens = time.time(), generation.usage.output_tokens
            with self.stats.lock:
                self.stats.served.append(unit)


def _threads(rig: Rig, env: Any, queue: LaneQueue, count: int) -> list[threading.Thread]:
    threads = [threading.Thread(target=rig.worker, args=(env, queue), daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def _wait_served(rig: Rig, count: int, timeout_s: float) -> bool:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        with rig.stats.lock:
            if len(rig.stats.served) >= count:
                return True
        time.sleep(0.2)
    return False


def _stop(queues: list[LaneQueue], threads: list[threading.Thread]) -> None:
    for queue in queues:
        queue.stop()
    for thread in threads:
        thread.join(timeout=120)


def _calls(fake: FakeAnthropic) -> int:
    return sum(1 for r in fake.requests if r.path.rstrip("/").endswith("/v1/messages"))


def demand_above_tier(rig: Rig, learners: int, workers: int, timeout_s: float) -> dict[str, Any]:
    from pregen.adapters.provider_budget import DynamoProviderBudget

    env = rig.environment(DynamoProviderBudget(rig.table, rig.dynamodb))
    queue = LaneQueue()
    start = time.time()
    for i in range(learners):
        queue.put(Unit(_lesson(i, "a"), Lane.INTERACTIVE, arrived=start), start)
    threads = _threads(rig, env, queue, workers)
    all_served = _wait_served(rig, learners, timeout_s)
    _stop([queue], threads)
    served = rig.stats.served
    last = max((u.done or start) for u in served) if served else start
    # The budget's minutes are the wall clock's: count the output of each whole minute within the demand (by the
    # minute a unit finished in); a part-minute at either end would say more about where the run started.
    first_full = int(start) // WINDOW_S * WINDOW_S + WINDOW_S
    full = list(range(first_full, int(last) - WINDOW_S + 1, WINDOW_S))
    per_minute = [sum(u.output_tokens for u in served if w <= (u.done or 0) < w + WINDOW_S) for w in full]
    # Both buckets start full: the first minute may produce the bucket and its refill (the provider allows it).
    # The steady rate is the output finished after it, to the last unit, a minute: what the refill sustains.
    steady_s = last - (start + WINDOW_S)
    steady = sum(u.output_tokens for u in served if (u.done or 0) > start + WINDOW_S)
    steady_tpm = round(steady * WINDOW_S / steady_s) if steady_s >= WINDOW_S / 2 else 0
    calls = _calls(rig.fake)
    return {
        "served": len(served),
        "asked": learners,
        "all_served": all_served,
        "seconds": round(last - start, 1),
        "full_minutes": per_minute,
        "output_tpm": steady_tpm,
        "steady_s": round(steady_s, 1),
        "throttled": rig.fake.throttled,
        "calls": calls,
        "per_1000": round(1000 * rig.fake.throttled / max(1, calls), 2),
        "handed_back": rig.stats.handed_back,
        "failed_deliveries": rig.stats.failed_deliveries,
    }


def learner_under_saturation(rig: Rig, background: int, workers: int, saturate_s: float) -> dict[str, Any]:
    from pregen.adapters.provider_budget import DynamoProviderBudget

    env = rig.environment(DynamoProviderBudget(rig.table, rig.dynamodb))
    interactive, background_q = LaneQueue(), LaneQueue()
    threads = _threads(rig, env, interactive, 4)
    # Idle: one learner's miss, nothing else running
    idle = Unit(_lesson(0, "idle"), Lane.INTERACTIVE)
    interactive.put(idle, idle.arrived)
    _wait_served(rig, 1, 120)
    idle_s = (idle.done or time.time()) - idle.arrived
    # Saturated: background lessons fill their share of the tier, then learners' misses arrive one by one
    now = time.time()
    for i in range(background):
        background_q.put(Unit(_lesson(i, "bg"), Lane.BACKGROUND, arrived=now), now)
    threads += _threads(rig, env, background_q, workers)
    time.sleep(saturate_s)
    learners: list[Unit] = []
    for i in range(3):
        unit = Unit(_lesson(i, "busy"), Lane.INTERACTIVE)
        interactive.put(unit, unit.arrived)
        learners.append(unit)
        deadline = time.time() + 120
        while unit.done is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(2)
    background_served = sum(1 for u in rig.stats.served if u.lane is Lane.BACKGROUND)
    _stop([interactive, background_q], threads)
    busy = [(u.done or float("inf")) - u.arrived for u in learners]
    return {
        "idle_s": round(idle_s, 2),
        "busy_s": [round(b, 2) for b in busy],
        "ratio": round(max(busy) / max(1e-9, idle_s), 2),
        "background_served": background_served,
        "throttled": rig.fake.throttled,
        "calls": _calls(rig.fake),
    }


def five_environments(rig: Rig, units: int, workers_each: int, timeout_s: float) -> dict[str, Any]:
    from pregen.adapters.provider_budget import DynamoProviderBudget

    queues = [LaneQueue() for _ in range(5)]
    start = time.time()
    for i in range(units):
        queues[i % 5].put(Unit(_lesson(i, "five"), Lane.INTERACTIVE, arrived=start), start)
    threads: list[threading.Thread] = []
    stores: list[_PeakStore] = []
    for queue in queues:  # each environment its own adapter (its own view of the bucket), as in Lambda
        store = _PeakStore(DynamoProviderBudget(rig.table, rig.dynamodb), rig.tier)
        stores.append(store)
        threads += _threads(rig, rig.environment(store), queue, workers_each)
    all_served = _wait_served(rig, units, timeout_s)
    _stop(queues, threads)
    lowest = min(store.lowest for store in stores)
    calls = _calls(rig.fake)
    return {
        "served": len(rig.stats.served),
        "asked": units,
        "all_served": all_served,
        "lowest_level": int(lowest),
        "takes": sum(store.takes for store in stores),
        "seconds": round(max((u.done or start) for u in rig.stats.served) - start, 1) if rig.stats.served else 0.0,
        "over_by_calls": round(max(0.0, -lowest) / RESERVATION, 2),
        "throttled": rig.fake.throttled,
        "calls": calls,
        "per_1000": round(1000 * rig.fake.throttled / max(1, calls), 2),
    }


@contextlib.contextmanager
def _moto_table(name: str) -> Any:
    """A counters-shaped table in moto, each DynamoDB request made atomic as the service's are (moto evaluates a
    condition and writes without a lock)."""
    import boto3
    from botocore.client import BaseClient
    from moto import mock_aws

    lock = threading.Lock()
    original = BaseClient._make_api_call

    def serialized(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name != "dynamodb":
            return original(self, operation, params)
        with lock:
            return original(self, operation, params)

    env = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    with mock.patch.dict(os.environ, env), mock_aws(), mock.patch.object(BaseClient, "_make_api_call", serialized):
        client = boto3.client("dynamodb")
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _phase(name: str, tier: Spend, latency: ModelLatency, router: _Router, run: Any) -> dict[str, Any]:
    fake_tier = Tier(tier.output_tokens, tier.input_tokens, tier.requests)
    with (
        _moto_table(f"counters-{name}") as dynamodb,
        running_fake_anthropic(answer_tokens=lambda _: LESSON_TOKENS, latency=latency, tier=fake_tier) as fake,
    ):
        figures: dict[str, Any] = run(Rig(fake, f"counters-{name}", tier, router, dynamodb))
        return figures


def run(args: argparse.Namespace) -> Result:
    tier = Spend(args.otpm, INPUT_TPM, RPM)
    latency = ModelLatency.parse(args.latency)
    router = _Router()
    provider_signals.listen(router)
    quiet = io.StringIO()  # the budget's EMF metrics and logs: not the report
    started = time.time()
    load_before = os.getloadavg()
    try:
        with contextlib.redirect_stdout(quiet):
            a = _phase("a", tier, latency, router, lambda rig: demand_above_tier(rig, args.learners, args.workers, 600))
            b = _phase("b", tier, latency, router, lambda rig: learner_under_saturation(rig, args.background, 16, 25.0))
            c = _phase("c", tier, latency, router, lambda rig: five_environments(rig, args.learners, 4, 600))
    finally:
        provider_signals.forget(router)
    load_after = os.getloadavg()
    figures = {"demand": a, "learner": b, "five": c}
    floors = {
        "demand_tpm": a["output_tpm"] >= 0.9 * args.otpm,
        "demand_429": a["per_1000"] <= 1.0,
        "demand_served": a["all_served"],
        "learner": b["ratio"] <= 1.5,
        "five": c["over_by_calls"] <= 1.0,
        "five_429": c["per_1000"] <= 1.0,
    }
    text = markdown(args, figures, floors, started, (load_before, load_after))
    return Result(
        text, args.command, figures={**figures, "floors": floors}, sections={SECTION: text}, ok=all(floors.values())
    )


def findings(args: argparse.Namespace, f: dict[str, Any], floors: dict[str, bool]) -> list[str]:
    """What the figures say about the design (throughput, hand-backs, five environments), read off the design."""
    a, b, c = f["demand"], f["learner"], f["five"]
    given_back = RESERVATION - LESSON_TOKENS
    found = [
        f"**Finding (throughput).** Each call takes its `max_tokens` ({RESERVATION:,}) from the model's bucket, "
        f"refilled continuously like the provider's, and gives back the {given_back:,} it did not use when it "
        "settles; a refused unit comes back after the refill its call needs (at least 2 s), not at the next "
        f"minute, so the refill is used while there is demand: {a['output_tpm']:,} output tokens a minute "
        f"({a['output_tpm'] / args.otpm:.0%} of the tier) after the first minute, at model latency "
        f"`{args.latency}`. Reserving the kind's expected output ({LESSON_TOKENS:,}) instead of `max_tokens` is "
        "not built: the provider charges `max_tokens` when a call starts, so a smaller reservation would let the "
        "budget start calls the provider refuses while the bucket is low.",
        f"**Finding (hand-backs).** The price: {a['handed_back']:,} hand-backs for {a['asked']} misses "
        f"({a['handed_back'] / max(1, a['asked']):.0f} a miss). Every waiting unit is told the wait for its own "
        "call alone, so they come back together and all but one wait again; on SQS each is a receive. A wait that "
        "counts the units already waiting would cut them (not built).",
        f"**Finding (five environments).** {c['throttled']} of {c['calls']} calls answered 429: one bucket in "
        "DynamoDB for every environment, refilled as the provider's, and `SEND_LAG_S` (2 s) of refill left "
        "unclaimed for the time a request takes to reach the provider (from full buckets the provider loses that "
        f"refill at its cap). The bucket's lowest level was {c['lowest_level']:,}.",
    ]
    if not floors["learner"] or b["ratio"] > 1.2:
        found.append(
            f"**Finding (learners).** A learner's miss took {b['ratio']}x its idle time: learners keep "
            "`INTERACTIVE_SHARE` of the bucket, and no busy time is an idle time plus a hand-back (at least 2 s), so "
            "the extra is the machine's load (the load average below) on 20 worker threads and the fake in one "
            "process, not the budget."
        )
    return [line for text in found for line in (text, "")]


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def markdown(
    args: argparse.Namespace,
    f: dict[str, Any],
    floors: dict[str, bool],
    started: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
) -> str:
    a, b, c = f["demand"], f["learner"], f["five"]
    limit = args.otpm
    rows = [
        "| floor | target | measured | |",
        "|---|---|---|---|",
        f"| demand above the tier: output tokens a minute while there is demand (after the first minute, whose "
        f"full buckets the provider allows too, to the last miss served) | ≥ 90 % of {limit:,} | "
        f"{a['output_tpm']:,} ({a['output_tpm'] / limit:.0%}) over {a['steady_s']} s; whole clock minutes "
        f"{', '.join(f'{m:,}' for m in a['full_minutes']) or 'none (too short a run)'}; demand lasted "
        f"{a['seconds']} s | {_mark(floors['demand_tpm'])} |",
        f"| demand above the tier: provider 429s | ≤ 1 per 1,000 calls | {a['per_1000']} per 1,000 "
        f"({a['throttled']} of {a['calls']}) | {_mark(floors['demand_429'])} |",
        f"| demand above the tier: every miss served | {a['asked']} | {a['served']} "
        f"({a['handed_back']} hand-backs, {a['failed_deliveries']} failed deliveries) | "
        f"{_mark(floors['demand_served'])} |",
        f"| a learner's miss while background work saturates the tier | ≤ 1.5x its idle time | "
        f"{b['ratio']}x (idle {b['idle_s']} s; busy {', '.join(map(str, b['busy_s']))} s; "
        f"{b['background_served']} background lessons meanwhile) | {_mark(floors['learner'])} |",
        f"| five environments, one budget: the shared bucket's lowest level (below 0: over the tier) | ≤ 1 call's "
        f"reservation ({RESERVATION:,}) over | lowest {c['lowest_level']:,} of {limit:,}: {c['over_by_calls']} calls "
        f"over; {c['served']}/{c['asked']} served in {c['seconds']} s | {_mark(floors['five'])} |",
        f"| five environments: provider 429s | ≤ 1 per 1,000 calls | {c['per_1000']} per 1,000 "
        f"({c['throttled']} of {c['calls']}) | {_mark(floors['five_429'])} |",
    ]
    return "\n".join(
        [
            "### The provider's limit (issue 32): the budget's floors",
            "",
            f"`{args.command}`",
            "",
            f"In process: `TokenBudgetAdmission` with the shared budget in moto's DynamoDB (requests made atomic), the "
            f"worker's `AnthropicGenerator` (SDK, `RateLimitReader`) against the fake provider on loopback enforcing "
            f"{limit:,} output tokens a minute ({INPUT_TPM:,} input, {RPM:,} requests; the fake's buckets refill "
            f"continuously), lessons of {LESSON_TOKENS:,} output tokens reserving {RESERVATION:,} "
            f"(`max_tokens`, what the provider charges at a call's start) from the budget's bucket of the same size, "
            f"refilled continuously; model latency `{args.latency}` (every time below is at that scale; realistic "
            "times are larger by its inverse, and so is each phase's length, not the ratios). Worker threads stand "
            f"for Lambda environments ({args.workers} for phase 1, 4 learners' + 16 background for phase 2, "
            "5 x 4 for phase 3); a hand-back re-queues the unit with the budget's delay.",
            "",
            *rows,
            "",
            *findings(args, f, floors),
            f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, {round(time.time() - started)} s; "
            f"{platform.machine()}, {os.cpu_count()} cores shared with other engineers' runs, load average "
            f"{load[0][0]:.1f} before, {load[1][0]:.1f} after.",
        ]
    )


SCENARIO = Scenario(
    SECTION,
    __doc__,
    run,
    options=(
        option("--otpm", type=int, default=60_000, help="the tier's output tokens a minute (fake and budget)"),
        option("--learners", type=int, default=100, help="misses at once in phases 1 and 3"),
        option("--workers", type=int, default=20, help="worker threads in phase 1"),
        option("--background", type=int, default=200, help="background lessons queued in phase 2"),
        option("--latency", default="scale:0.25", help="the fake's MODEL_LATENCY (pregen.domain.model_time)"),
    ),
)
