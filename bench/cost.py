"""Cost per 1,000 pre-generated background items: everything direct on the larger model (what the replaced systems
did) against Pregen's model tiers + Message Batches + prompt caching, measured side by side in one run against the
fake Anthropic server (real SDK, real wire format, usage estimated from the actual prompts and realistic answer
lengths), priced with pregen/data/prices.json by the same adapter code the worker runs.

    python -m bench cost [--items 1000] [--write]

Two steps in between show what each part contributes: tiers alone, and tiers + caching (direct calls).
"""

from __future__ import annotations

import platform
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.harness import Result, Scenario, option
from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.config.worker import WorkerSettings
from pregen.domain.errors import SpendingError
from pregen.domain.models import ContentRequest, Kind
from pregen.domain.pricing import default_prices
from pregen.services.batches import custom_id_for
from pregen_fakes.fake_anthropic import FaultRates, min_cacheable_tokens, running_fake_anthropic

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from pregen_fakes.fake_anthropic import FakeAnthropic

SECTION = "cost_per_1000"
CHUNK = 10  # the background lane's SQS BatchSize: one Message Batch per worker invocation
QUESTION_TYPES = ["multiple_choice", "true_false", "numeric", "short_answer", "fill_blank"]
SUBJECTS = ["Maths", "Physics", "Chemistry", "Biology", "History", "Geography", "English", "Spanish"]
TEMPLATE_TIERS = '{"lesson": "small", "question_set": "small", "exam": "large"}'


def answer_tokens(request: ContentRequest) -> int:
    """Output a real answer to the request has: a lesson ~1,800 tokens, ~160 per question plus a header."""
    if request.kind is Kind.LESSON:
        return 1_800
    return 200 + 160 * (request.count or 5)


def background_mix(items: int, seed: int = 7) -> list[ContentRequest]:
    """What the background lane pre-generates: warming (skills x question types: question sets, lessons) and
    inventory top-ups (diagnostic exams). 50 % question sets, 40 % lessons, 10 % exams, all distinct keys."""
    rng = random.Random(seed)
    requests = []
    for i in range(items):
        subject, grade = rng.choice(SUBJECTS), str(rng.randint(3, 12))
        share = i % 10
        if share < 5:
            data = {
                "kind": "question_set",
                "question_type": rng.choice(QUESTION_TYPES),
                "count": rng.choice([5, 5, 8, 10]),
            }
        elif share < 9:
            data = {"kind": "lesson", "lesson_number": rng.randint(1, 12)}
        else:
            data = {"kind": "exam", "exam_type": "diagnostic"}
        requests.append(ContentRequest.model_validate({**data, "subject": subject, "grade": grade, "topic": f"t{i}"}))
    return requests


@dataclass
class Run:
    name: str
    cost_usd: float = 0.0
    calls: int = 0
    batches: int = 0
    fallbacks: int = 0
    failed: int = 0  # items whose every attempt was invalid: billed, not stored
    models: Counter[str] = field(default_factory=Counter)
    cache_read: int = 0
    cache_write: int = 0
    seconds: float = 0.0


def generator(fake: FakeAnthropic, model_for: Callable[[Kind], str], *, cached: bool) -> AnthropicGenerator:
    return AnthropicGenerator(
        api_key="sk-bench",
        model_for=model_for,
        prices=default_prices(),
        base_url=fake.base_url,
        max_retries=2,
        timeout_s=60.0,
        cache_prompts=cached,
    )


def run_direct(
    name: str, fake: FakeAnthropic, requests: list[ContentRequest], model_for: Callable[[Kind], str], *, cached: bool
) -> Run:
    fake.reset()
    gen = generator(fake, model_for, cached=cached)
    run = Run(name)
    started = time.perf_counter()
    for request in requests:
        try:
            generation = gen.generate(request)
        except SpendingError as exc:  # every re-ask invalid: billed all the same, and counted
            run.cost_usd += exc.spent_usd
            run.failed += 1
            continue
        run.cost_usd += generation.cost_usd
        run.calls += generation.attempts
        run.models[generation.model] += 1
        run.cache_read += generation.usage.cache_read_input_tokens
        run.cache_write += generation.usage.cache_creation_input_tokens
    run.seconds = time.perf_counter() - started
    return run


def run_batched(
    name: str, fake: FakeAnthropic, requests: list[ContentRequest], model_for: Callable[[Kind], str]
) -> Run:
    """Pregen's background lane: chunks of CHUNK jobs per Message Batch, results matched back by custom_id,
    anything that fails in the batch generated directly (the fallback the collector sends back to the lane)."""
    fake.reset()
    gen = generator(fake, model_for, cached=True)
    run = Run(name)
    started = time.perf_counter()
    for start in range(0, len(requests), CHUNK):
        chunk = {custom_id_for(f"job{start + i:06d}"): r for i, r in enumerate(requests[start : start + CHUNK])}
        batch_id = gen.submit_batch(list(chunk.items()))
        run.batches += 1
        settled = set()
        for outcome in gen.batch_results(batch_id, chunk):
            settled.add(outcome.custom_id)
            run.cost_usd += outcome.spent_usd
            if outcome.generation is not None:
                run.calls += 1
                run.models[outcome.generation.model] += 1
                run.cache_read += outcome.generation.usage.cache_read_input_tokens
                run.cache_write += outcome.generation.usage.cache_creation_input_tokens
                continue
            settled.discard(outcome.custom_id)
        for custom_id in set(chunk) - settled:  # errored, expired, invalid or missing: a direct call
            try:
                generation = gen.generate(chunk[custom_id])
            except SpendingError as exc:
                run.cost_usd += exc.spent_usd
                run.failed += 1
                continue
            run.fallbacks += 1
            run.cost_usd += generation.cost_usd
            run.calls += generation.attempts
            run.models[generation.model] += 1
    run.seconds = time.perf_counter() - started
    return run


def markdown(runs: list[Run], items: int, mix: Counter[str], command: str) -> str:
    base = runs[0].cost_usd
    per_1000 = 1000 / items
    rows = [
        f"| {r.name} | {r.cost_usd * per_1000:.2f} | {r.cost_usd / base:.1%} | {r.calls / items:.3f} | {r.failed} | "
        f"{r.batches} | {r.fallbacks} | "
        f"{', '.join(f'{m} {n}' for m, n in sorted(r.models.items()))} | {r.cache_write:,} / {r.cache_read:,} |"
        for r in runs
    ]
    pregen = runs[-1].cost_usd / base
    verdict = "meets" if pregen <= 0.40 else "MISSES"
    return "\n".join(
        [
            "## Cost per 1,000 background items (Pregen vs direct on the larger model)",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {platform.machine()}, Python {platform.python_version()}. The fake Anthropic server "
            "(`local/pregen_fakes/fake_anthropic.py`) answers through the real SDK and wire format; usage is "
            "estimated from the actual prompts (about 4 characters a token, the ~3,600-token cached handbook "
            f"included; minimum cacheable prompt {min_cacheable_tokens('claude-sonnet-5-5'):,} tokens, "
            f"{min_cacheable_tokens('claude-haiku-5-5'):,} on Haiku) with realistic answer lengths (a lesson "
            "1,800 tokens, 160 per question). Cost is priced by the worker's own adapter from "
            "`pregen/data/prices.json`.",
            "",
            f"Mix of {items:,} distinct background items: "
            + ", ".join(f"{n} {k}" for k, n in sorted(mix.items()))
            + " (diagnostic exams of 71 questions; question sets of 5-10).",
            "",
            "| run | USD per 1,000 items | vs baseline | model calls per item | failed | batches | direct fallbacks "
            "| generations per model | cache write / read tokens |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"**Pregen costs {pregen:.1%} of the direct baseline** ({verdict} the ≤ 40 % target). Exams stay on the "
            "larger model by design, so they dominate what is left; tiers move lessons and question sets to the "
            "smaller model, batches halve every price, and caching turns the shared handbook into 0.1x reads.",
            "",
            "Caveat: the fake's prompt cache always hits once written; the real Batches API caches best-effort "
            "(the 1-hour TTL on batch requests makes hits likely, not certain). With no cache hit at all in "
            f"batches, Pregen would cost the 'tiers only' row halved: {runs[1].cost_usd / 2 / base:.1%} of the "
            "baseline.",
        ]
    )


def bench_settings() -> WorkerSettings:
    """The worker's settings with the template's model tiers (resource names unused: nothing is stored)."""
    return WorkerSettings.from_env(
        {
            "CONTENT_TABLE": "bench",
            "JOBS_TABLE": "bench",
            "COUNTERS_TABLE": "bench",
            "INTERACTIVE_QUEUE_URL": "http://bench/interactive",
            "BACKGROUND_QUEUE_URL": "http://bench/background",
            "MODEL_TIERS": TEMPLATE_TIERS,
        }
    )


def run(args: argparse.Namespace) -> Result:
    requests = background_mix(args.items)
    settings = bench_settings()

    def large(_: Kind) -> str:
        return settings.model_large

    faults = FaultRates(invalid=args.invalid, truncated=args.truncated, seed=7)
    with running_fake_anthropic(answer_tokens=answer_tokens, faults=faults) as fake:
        runs = [
            run_direct("baseline: all direct on the larger model, no caching", fake, requests, large, cached=False),
            run_direct("tiers only (direct, no caching)", fake, requests, settings.model_for, cached=False),
            run_direct("tiers + prompt caching (direct)", fake, requests, settings.model_for, cached=True),
            run_batched("Pregen: tiers + batches + prompt caching", fake, requests, settings.model_for),
        ]
    mix = Counter(r.kind.value for r in requests)
    command = args.command
    command += f"  # answers invalid {args.invalid:.0%}, truncated {args.truncated:.0%}: re-asked, every attempt billed"
    text = markdown(runs, args.items, mix, command)
    return Result(text, args.command, sections={SECTION: text})


SCENARIO = Scenario(
    "cost",
    __doc__,
    run,
    options=(
        option("--items", type=int, default=1000),
        option(
            "--invalid", type=float, default=0.05, help="share of answers that fail validation (re-asked, and billed)"
        ),
        option("--truncated", type=float, default=0.03, help="share of answers cut off at max_tokens"),
    ),
)
