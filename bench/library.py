"""Library: does the number of versions of a key cost the hit path anything, and what does a vote cost?

A hit on a key with 1 version and a hit on a key with 5 versions, and a vote on each, measured interleaved in
one run against moto in-process (latency ratios; DynamoDB requests counted per call).

    .venv/bin/python -m bench library [--requests 300] [--write]
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import platform
import time
from typing import TYPE_CHECKING, Any
from unittest import mock

from bench.harness import Environment, Result, Scenario, option
from bench.report import summary

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

QUERY_ONE = {"kind": "lesson", "subject": "Physics", "topic": "Momentum", "grade": "9"}
QUERY_FIVE = {"kind": "lesson", "subject": "Physics", "topic": "Energy", "grade": "9"}


def _drain(deps: Any, queue_url: str) -> None:
    import boto3

    from pregen.messages import JobMessage
    from pregen.services.generation import generate_job

    sqs = boto3.client("sqs")
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            generate_job(JobMessage.model_validate_json(m["Body"]), receive_count=1, worker_id="bench", deps=deps)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _setup(versions_of_five: int) -> tuple[dict[str, str], str]:
    """Two keys: one with a single version, one with ``versions_of_five`` (regenerated in turn)."""
    import boto3

    from aws_emulator.template import Template
    from pregen import wiring
    from pregen.domain.models import Caller, ContentRequest, Role
    from pregen.services.content import serve_content
    from pregen.services.voting import request_regeneration
    from pregen.wiring import library as library_wiring
    from pregen.wiring import serve as serve_wiring
    from pregen.wiring import worker as worker_wiring

    template = Template(overrides={"JwtIssuer": "https://issuer.bench", "JwtAudience": "pregen"})
    resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="bench")
    os.environ.update({**template.environment(), "ANTHROPIC_API_KEY_PARAMETER": ""})
    wiring.reset()
    queue_url = resources.queue_urls["InteractiveQueue"]
    learner, teacher = Caller(sub="bench-learner"), Caller(sub="bench-teacher", role=Role.TEACHER)
    ids = {}
    for name, query in (("one", QUERY_ONE), ("five", QUERY_FIVE)):
        request = ContentRequest.model_validate(query)
        serve_content(request, learner, serve_wiring.serve_deps())
        _drain(worker_wiring.worker_deps(), queue_url)
        hit = serve_content(request, learner, serve_wiring.serve_deps())
        ids[name] = str(hit.content.meta["version_id"])  # type: ignore[union-attr]
    for _ in range(versions_of_five - 1):
        job, _ = request_regeneration(ids["five"], teacher, "bench: another version", library_wiring.library_deps())
        _drain(worker_wiring.worker_deps(), queue_url)
        listed = library_wiring.library_deps().library.list_versions(job.key, time.time())
        ids["five"] = next(v.version_id for v in listed if v.is_best)  # vote on the served one
    return ids, queue_url


def _runners(ids: dict[str, str]) -> dict[str, Callable[[], None]]:
    from pregen.domain.models import Caller, ContentRequest
    from pregen.services.content import Hit, serve_content
    from pregen.services.voting import cast_vote
    from pregen.wiring import library as library_wiring
    from pregen.wiring import serve as serve_wiring

    voters = itertools.count()

    def hit(query: dict[str, str]) -> Callable[[], None]:
        request = ContentRequest.model_validate(query)

        def run() -> None:
            assert isinstance(serve_content(request, Caller(sub="bench-learner"), serve_wiring.serve_deps()), Hit)

        return run

    def vote(name: str) -> Callable[[], None]:
        def run() -> None:
            cast_vote(ids[name], Caller(sub=f"voter-{next(voters)}"), "up", None, library_wiring.library_deps())

        return run

    return {
        "hit, key with 1 version": hit(QUERY_ONE),
        "hit, key with 5 versions": hit(QUERY_FIVE),
        "vote, key with 1 version": vote("one"),
        "vote, key with 5 versions": vote("five"),
    }


def _requests_per_call(runner: Callable[[], None]) -> list[str]:
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def spy(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return original(self, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", spy):
        runner()
    return calls


def run(args: argparse.Namespace) -> Result:
    os.environ.update({"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    with Environment("moto"), contextlib.redirect_stdout(io.StringIO()):
        ids, _ = _setup(versions_of_five=5)
        runners = _runners(ids)
        requests = {name: _requests_per_call(run) for name, run in runners.items()}
        timings: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.requests):
            for name, run in runners.items():
                started = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - started) * 1000)
    results = {name: summary(samples) for name, samples in timings.items()}
    base_hit, base_vote = results["hit, key with 1 version"]["p50"], results["vote, key with 1 version"]["p50"]
    lines = [
        f"Command: `.venv/bin/python -m bench library --requests {args.requests} --write`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; DynamoDB is moto"
        " in-process, so the latencies are relative: the request counts and the ratios are the result.",
        "",
        "| call | DynamoDB requests | p50 ms | p99 ms | p50 ratio |",
        "|---|---|---|---|---|",
    ]
    for name, figures in results.items():
        base = base_hit if name.startswith("hit") else base_vote
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(_count(requests[name]).items()))
        lines.append(
            f"| {name} | {len(requests[name])} ({ops}) | {figures['p50']:.2f} | {figures['p99']:.2f} |"
            f" {figures['p50'] / base:.2f} |"
        )
    lines += [
        "",
        "A hit reads only the denormalised served version, whatever the number of versions. A vote that does not",
        "change the served version reads the version and the learner's vote, writes one transaction, reads the counts",
        "and Queries the key's small counter items (with more than one version, it also reads the key's hit count).",
        "moto deep-copies a table on every transaction, so the vote latencies here grow with the table; the request",
        "counts are what carries over to DynamoDB.",
    ]
    text = "\n".join(lines)
    section = "## Library: hits and votes by number of versions\n\n" + text
    figures = {name: {"requests": len(requests[name]), "p50_ms": f["p50"]} for name, f in results.items()}
    return Result(text, args.command, figures, sections={"library": section})


def _count(ops: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    return counts


SCENARIO = Scenario(
    "library",
    __doc__,
    run,
    options=(option("--requests", type=int, default=300),),
)
