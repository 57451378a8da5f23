"""Fault injection: many jobs through the real worker while the model provider and the platform misbehave.

    .venv/bin/python -m bench faults                 # 1,000 jobs, the figures in docs/RELIABILITY.md
    .venv/bin/python -m bench faults --jobs 200 --seed 3 --reset 0.05
    .venv/bin/python -m bench faults --stack --jobs 250   # on the local stack (bench/faults_stack.py)

What runs is the production path, not a model of it: jobs are accepted by the pre-generate use case, sit on the
template's SQS lanes (moto, with their redrive policies), and are delivered in batches to
``functions.worker.app.lambda_handler``, whose ``AnthropicGenerator`` talks HTTP to the fake Messages API
(``pregen_fakes.fake_anthropic``). The fake injects 429 (retry-after), 529, timeouts, connection resets,
truncated answers, refusals and schema-invalid output at seeded rates. The platform's faults are injected by the
delivery loop here:

- duplicate deliveries: a received message is sent again before the worker sees it (SQS is at-least-once);
- crashes mid-job: the worker dies after taking the key's lease and before calling the model. Lambda then
  returns the whole batch to the queue after the visibility timeout (30 min, 6 x the worker's timeout), by
  which time the lease (330 s) has expired: the loop models this by advancing the injected clock past the lease
  before the crashed batches are visible again.

One delivery at a time, as one Lambda instance works (the worker module's BatchProcessor holds per-invocation
state, so concurrent invocations must not share a module).

At the end every accepted job is classified: done (its content is stored), failed (its job record says why, and
its message is in the lane's dead-letter queue) or lost (anything else). The fake counts complete, valid answers
per content key: more than one for a key would be a double generation; ``put_content`` is counted too.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bench.faults_common import (
    DLQS,
    FAULTS,
    LANES,
    FaultConfig,
    FaultReport,
    classify,
    count_answers,
    count_outlived,
    drain_dead_letters,
    extra_requests,
    floor_lines,
    job_requests,
    load_cap,
)
from bench.harness import Result, Scenario, from_args, option
from bench.report import DOC

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from bench.harness.scenario import Option
    from pregen.domain.models import ContentRequest, Generation

DELIVERY_S = 0.5  # what one pass over the lanes costs on the run's (frozen) clock

RELIABILITY = DOC.parent / "RELIABILITY.md"


class Crash(BaseException):
    """The worker process dies: nothing after this point runs (no ``except Exception`` sees it)."""


class CrashingGenerator:
    """Wraps the real generator; dies (``Crash``) before calling it at ``rate``. The lease is held by then."""

    def __init__(self, inner: Any, rate: float, rng: random.Random) -> None:
        self.inner = inner
        self.name = inner.name
        self.rate = rate
        self.rng = rng
        self.crashes = 0

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        if self.rng.random() < self.rate:
            self.crashes += 1
            raise Crash
        result: Generation = self.inner.generate(request, feedback, max_calls=max_calls)
        return result


class TimedOut(BaseException):
    """The runtime ended the invocation at its timeout while a model call was still open: nothing after runs."""


class OutlivingGenerator:
    """Wraps the generator; at ``rate`` its call outlives the invocation: the provider still answers (and bills)
    the request, but the runtime has ended the invocation at its timeout, so the worker never sees the answer
    (``TimedOut``). The loop then treats the batch as Lambda does a timed-out one: invisible until its visibility
    timeout, the lease held. The fake's answers to such a call are ``outlived`` (their ids): billed, never used."""

    def __init__(self, inner: Any, rate: float, rng: random.Random, fake: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.rate = rate
        self.rng = rng
        self.fake = fake
        self.outlived: set[int] = set()
        self.count = 0

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        if self.rng.random() >= self.rate:
            result: Generation = self.inner.generate(request, feedback, max_calls=max_calls)
            return result
        before = len(self.fake.requests)
        self.count += 1
        try:
            self.inner.generate(request, feedback, max_calls=max_calls)
        except Exception:  # whatever the call came to, the invocation had ended before it
            pass
        finally:
            self.outlived.update(id(r) for r in list(self.fake.requests)[before:])
        raise TimedOut


@contextmanager
def _transactions_copy_items() -> Iterator[None]:
    """The local stack's fix to moto (``aws_emulator.moto_server``) for this run only: a transaction backs up the
    items it touches, not every table it names (a deep copy of the whole content table per stored item made the
    run's memory grow with the square of the jobs: 2.4 GB at 150 jobs, past 24 GB before 500)."""
    from moto.dynamodb import models

    from aws_emulator.moto_server import transactions_copy_items_not_tables

    saved = models.copy, models.DynamoDBBackend.transact_write_items  # type: ignore[attr-defined]
    transactions_copy_items_not_tables()
    try:
        yield
    finally:
        models.copy, models.DynamoDBBackend.transact_write_items = saved  # type: ignore[attr-defined,method-assign]


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(env)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run(config: FaultConfig) -> FaultReport:  # noqa: C901, PLR0915 - one scenario, told in order
    import boto3
    from moto import mock_aws

    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from aws_emulator.template import Template
    from pregen import wiring
    from pregen.adapters.generators.claude import AnthropicGenerator
    from pregen.config.base import load
    from pregen.config.worker import WorkerSettings
    from pregen.domain.clock import FrozenClock
    from pregen.domain.models import Caller, ContentRequest
    from pregen.domain.pricing import default_prices
    from pregen.services.content import pregenerate
    from pregen.wiring import serve as serve_wiring
    from pregen.wiring import worker as worker_wiring
    from pregen_fakes.fake_anthropic import running_fake_anthropic

    report = FaultReport()
    rng = random.Random(config.seed)
    started = time.perf_counter()
    fake_aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "CRITICAL",
        "POWERTOOLS_METRICS_NAMESPACE": "PregenFaults",
    }
    follow = "schema" if config.follow == "schema" else "prompt"
    with (
        _environment(fake_aws),
        mock_aws(),
        _transactions_copy_items(),
        running_fake_anthropic(faults=config.fault_rates(), follow=follow) as fake,
    ):
        if config.one_of_each:
            from pregen_fakes.fake_anthropic import Reply

            hang = config.fault_rates().hang_s
            fake.script(
                [
                    Reply.rate_limited(retry_after=0.01),
                    Reply.overloaded(retry_after=0.01),
                    Reply.timeout(hang),
                    Reply.connection_reset(),
                    Reply.truncated(),
                    Reply.invalid_offline(),
                    Reply.refusal(),
                ]
            )
        template = Template(overrides={"JwtIssuer": "https://issuer.test", "JwtAudience": "pregen"})
        resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="faults")
        env = {**template.environment(), "ANTHROPIC_API_KEY_PARAMETER": ""}
        os.environ.update(env)
        os.environ.update({"POWERTOOLS_LOG_LEVEL": "CRITICAL", "POWERTOOLS_METRICS_DISABLED": "true"})
        wiring.reset()
        from functions.worker import app as worker_app

        clock = FrozenClock(at=time.time())
        serve = serve_wiring.serve_deps()
        serve.clock = clock
        deps = worker_wiring.worker_deps()
        # Throttled jobs are re-sent with DelaySeconds (30 s, doubling, in AWS); 1 s keeps the run short.
        deps.policy = deps.policy.model_copy(update={"throttle_base_delay_s": 1})
        deps.clock = clock
        settings = load(WorkerSettings)
        if config.plain_schema:
            from pregen.adapters.generators import claude
            from pregen.domain.schemas import schema_for

            claude.answer_schema = lambda request: schema_for(request.kind)  # type: ignore[assignment]
        # A crash comes first (before the call); a call that outlives the timeout is made and answered.
        outliving = OutlivingGenerator(
            AnthropicGenerator(
                api_key="fake-key",
                base_url=fake.base_url,
                model_for=settings.model_for,
                prices=default_prices(),
                max_attempts=settings.max_generation_attempts,
                max_retries=config.sdk_max_retries,
                timeout_s=config.client_timeout_s,
            ),
            config.outlive_rate,
            random.Random(config.seed + 4),
            fake,
        )
        crashing = CrashingGenerator(outliving, config.crash_rate, rng)
        deps.generator = crashing
        stored: Counter[str] = Counter()
        put_content = deps.store.put_content

        def counting_put(content: Any) -> None:
            put_content(content)
            stored[content.key] += 1

        deps.store.put_content = counting_put  # type: ignore[method-assign]

        sqs = boto3.client("sqs")
        crashed: list[tuple[str, str]] = []

        def deliver(lane: str) -> int:
            url = resources.queue_urls[lane]
            source = next(s for s in template.queue_sources() if s.queue == lane)
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=source.batch_size,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return 0
            for message in messages:
                if rng.random() < config.duplicate_rate:
                    sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
                    report.duplicates_sent += 1
            report.deliveries += len(messages)
            event = {"Records": [to_lambda_record(m, resources.queue_arns[lane]) for m in messages]}
            try:
                result = worker_app.lambda_handler(event, LambdaContext(function_name="worker", timeout_s=300))
            except (Crash, TimedOut):
                # The instance died (or the runtime ended it at its timeout): the batch stays invisible until its
                # visibility timeout; the lease stays held.
                crashed.extend((url, m["ReceiptHandle"]) for m in messages)
                return len(messages)
            failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            for m in messages:
                if m["MessageId"] in failed:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
            return len(messages)

        def depth(lane: str) -> int:
            attrs = sqs.get_queue_attributes(
                QueueUrl=resources.queue_urls[lane],
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            return sum(int(attrs.get(name, 0)) for name in attrs)

        # Given N distinct requests accepted at two priorities (both lanes), and some asked again by others (rate
        # limits are not what this run is about: charge_to=None)
        accepted: dict[str, str] = {}  # job_id -> canonical request
        specs = job_requests(config)

        def accept(start: int) -> None:
            chunk = [ContentRequest.model_validate(s) for s in specs[start : start + config.wave]]
            priority = 50 if (start // config.wave) % 2 == 0 else 30
            for request, result in zip(
                chunk, pregenerate(chunk, priority, Caller(sub=f"learner-{start}"), serve, charge_to=None), strict=True
            ):
                if result.job_id is not None and result.status == "queued":
                    accepted[result.job_id] = json.dumps(request.canonical(), sort_keys=True)
            again = [r for r in chunk if rng.random() < config.joins]
            for result in pregenerate(again, 50, Caller(sub="someone-else"), serve, charge_to=None):
                report.joined += result.status == "in_flight"

        # When the worker drains both lanes, round after round, until nothing is left anywhere; a wave at a time.
        # (The run still grows faster than linearly: moto deep-copies the whole table on each TransactWriteItems.)
        for start in range(0, len(specs), config.wave):
            accept(start)
            for _ in range(config.max_rounds):
                report.rounds += 1
                while sum(deliver(lane) for lane in LANES):
                    # A delivery takes time: without it a record handed straight back (the run makes failed ones
                    # visible at once) would meet a crashed delivery's lease forever on the frozen clock.
                    clock.advance(DELIVERY_S)
                if not crashed:
                    if not any(depth(lane) for lane in LANES):
                        break
                    # Throttled and handed-back jobs wait out their DelaySeconds (SQS's real time), and the run's
                    # clock passes with it (the provider's retry-after is counted on it).
                    time.sleep(0.2)
                    clock.advance(0.2)
                    continue
                # Time passes: the crashed batches' visibility timeout (> the lease) runs out; they come back.
                clock.advance(deps.policy.lease_seconds + 1)
                for url, handle in crashed:
                    # A record whose retry delay the worker set before the crash may be back already (a new handle).
                    with contextlib.suppress(sqs.exceptions.ReceiptHandleIsInvalid):
                        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
                crashed.clear()
        report.jobs = len(accepted)
        report.crashes = crashing.crashes
        report.phases["run"] = time.perf_counter() - started

        # Then every job is done or failed with its reason (and dead-lettered); none lost, none generated twice
        in_dlq = drain_dead_letters(sqs, [resources.queue_urls[dlq] for dlq in DLQS.values()])
        classify(report, accepted, serve.jobs, serve.store, in_dlq=in_dlq, now=clock.now())
        count_answers(report, fake, outliving.outlived)
        extra_requests(report, fake, killed=set(), outlived=outliving.outlived)
        report.outlived = outliving.count
        count_outlived(report, fake, outliving.outlived)
        report.stored_twice = [k for k, n in stored.items() if n > 1]
        report.phases["check"] = time.perf_counter() - started - report.phases["run"]
        wiring.reset()
    report.seconds = time.perf_counter() - started
    return report


def _markdown(config: FaultConfig, report: FaultReport, command: str) -> str:
    rates = config.fault_rates()
    s = report.summary()
    lines = [
        f"Command: `{command}` (seed {config.seed}; {report.seconds:.0f} s on this machine).",
        "",
        "| injected | rate |",
        "|---|---|",
        *(f"| {name} | {getattr(rates, name):.0%} of model requests |" for name in FAULTS),
        f"| duplicate SQS delivery | {config.duplicate_rate:.0%} of deliveries |",
        f"| worker crash after taking the lease | {config.crash_rate:.0%} of generations |",
        f"| a model call that outlives the function timeout (answered and billed after the invocation ended) | "
        f"{config.outlive_rate:.0%} of generations |",
        "",
        "| outcome | count |",
        "|---|---|",
        f"| jobs accepted | {s['jobs']} (+{s['joined_requests']} requests joined an in-flight job) |",
        f"| done (content stored) | {s['done']} |",
        f"| failed, reason recorded | {s['failed']} ({s['failed_with_message_in_dlq']} with the message in the DLQ) |",
        f"| **lost** | **{s['lost']}** |",
        f"| **generated twice** (valid answers per key > 1) | **{s['generated_twice']}** |",
        f"| stored twice | {s['stored_twice']} |",
        f"| model requests | {s['model_requests']} ({s['model_calls_per_accepted_job']} per accepted job) |",
        f"| re-asks (a request carrying the last answer's errors) | {s['re_asks_per_1000_jobs']} per 1,000 jobs |",
        f"| most model calls any job made (the cap is {load_cap()}) | {s['max_model_calls_of_a_job']} |",
        f"| deliveries / duplicates / crashes | {s['deliveries']} / {s['duplicate_deliveries']} / {s['crashes']} |",
        f"| calls that outlived the timeout / their valid answers (billed, never seen by the worker) | "
        f"{s['outlived_timeouts']} / {s['outlived_billed']} |",
        "",
        *floor_lines(config, report, stack=False),
        "",
        "Faults served by the fake: " + ", ".join(f"{k} {v}" for k, v in s["faults_served"].items()) + ".",
        "",
        "Failure reasons: " + (", ".join(f"`{k}` {v}" for k, v in s["failure_reasons"].items()) or "none") + ".",
    ]
    return "\n".join(lines)


def _options() -> tuple[Option, ...]:
    defaults = FaultConfig().fault_rates()
    return (
        option("--jobs", type=int, default=1000),
        option("--seed", type=int, default=7),
        option("--duplicates", dest="duplicate_rate", type=float, default=0.05, help="share of deliveries sent twice"),
        option(
            "--crashes", dest="crash_rate", type=float, default=0.02, help="share of generations that crash the worker"
        ),
        *(
            option(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name), metavar="P")
            for name in FAULTS
        ),
        option(
            "--follow",
            choices=["prompt", "schema"],
            default="prompt",
            help="schema: a model that follows only the schema",
        ),
        option("--mix", choices=["lessons", "kinds"], default="lessons"),
        option("--plain-schema", action="store_true", help="send the kind's schema, not the request's"),
        option(
            "--stack",
            action="store_true",
            help="on the local stack: jobs over HTTP, the worker's environments as processes, DynamoDB Local, SIGKILLs",
        ),
        option(
            "--lease", dest="lease_s", type=int, default=30, help="--stack: the worker's LEASE_SECONDS (template: 330)"
        ),
        option(
            "--retry-visibility",
            dest="retry_visibility_s",
            type=int,
            default=None,
            help="--stack: seconds before a failed batch is visible again (default: the lease + 5; make run's: 2)",
        ),
        option(
            "--billed-kills",
            dest="billed_kill_rate",
            type=float,
            default=0.0,
            metavar="P",
            help="--stack: share of answered requests whose worker is SIGKILLed just after the answer is sent",
        ),
        option("--batches", action="store_true", help="--stack: the background lane through Message Batches"),
        option(
            "--outlive-timeouts",
            dest="outlive_rate",
            type=float,
            default=0.0,
            metavar="P",
            help="share of model calls that outlive the function timeout (answered after the invocation ended)",
        ),
        option(
            "--function-timeout",
            dest="function_timeout_s",
            type=int,
            default=None,
            help="--stack: the worker's Timeout for the run (default: the template's; 130 with --outlive-timeouts)",
        ),
        option(
            "--settle",
            dest="settle_s",
            type=float,
            default=900.0,
            help="--stack: the longest wait for the lanes (and batches) to settle once every job is accepted",
        ),
    )


def _check(args: argparse.Namespace) -> str | None:
    if args.stack and args.plain_schema:
        return "--plain-schema patches the worker module in this process: not with --stack"
    if not args.stack and (args.billed_kill_rate or args.batches):
        return "--billed-kills and --batches kill processes and run the batch collection: only with --stack"
    return None


def run_scenario(args: argparse.Namespace) -> Result:
    from bench import faults_stack
    from pregen_fakes.fake_anthropic import FaultRates

    config = from_args(FaultConfig, args)
    config.faults = FaultRates(
        **{n: getattr(args, n) for n in FAULTS},
        seed=args.seed,
        retry_after=0.01,
        hang_s=config.client_timeout_s * 2,
        keyed=True,  # each request's fault follows from the seed and the request, not from the arrival order
    )
    report = faults_stack.run_stack(config) if args.stack else run(config)
    command = "python -m bench faults" + (" --stack" if args.stack else "")
    command += f" --jobs {args.jobs}" if args.jobs != 1000 else ""
    command += f" --seed {args.seed}" if args.seed != 7 else ""
    command += f" --follow {args.follow}" if args.follow != "prompt" else ""
    command += f" --mix {args.mix}" if args.mix != "lessons" else ""
    command += " --plain-schema" if args.plain_schema else ""
    command += f" --lease {args.lease_s}" if args.lease_s != 30 else ""
    command += f" --retry-visibility {args.retry_visibility_s}" if args.retry_visibility_s is not None else ""
    command += f" --crashes {args.crash_rate:g}" if args.crash_rate != 0.02 else ""
    command += f" --billed-kills {args.billed_kill_rate:g}" if args.billed_kill_rate else ""
    command += " --batches" if args.batches else ""
    command += f" --outlive-timeouts {args.outlive_rate:g}" if args.outlive_rate else ""
    command += f" --function-timeout {args.function_timeout_s}" if args.function_timeout_s is not None else ""
    command += f" --settle {args.settle_s:g}" if args.settle_s != 900 else ""
    if args.stack:
        # Issue 27's floor (kills after billing, the batch path) has its own section beside the plain stack run's.
        section = "faults-stack-floor" if args.billed_kill_rate or args.batches or args.outlive_rate else "faults-stack"
        text = faults_stack.markdown(config, report, command)
    else:
        section, text = "faults", _markdown(config, report, command)
    verdict = ("LOST: " + ", ".join(report.lost[:20]) + "\n" if report.lost else "") + ("PASS" if report.ok else "FAIL")
    return Result(f"{text}\n\n{verdict}", args.command, report.summary(), sections={section: text}, ok=report.ok)


SCENARIO = Scenario("faults", __doc__, run_scenario, options=_options(), doc_file=RELIABILITY, check=_check)
