"""Requests per operation: the DynamoDB and SQS requests each operation makes (a hit, a miss before its 202, a
joined miss, a generation before and after its model call, a pre-generated key, a vote, an exam claim), by API
call, and the read/write units they cost. In-process on moto, every request seen by a spy on botocore's
``BaseClient._make_api_call``; the counts are exact and hold on AWS (the same code makes the same requests).

The units are *computed*, not measured (moto reports no consumed capacity): from the sizes of the items read and
written, by DynamoDB's on-demand rules -- a read unit per 4 KB strongly consistent (half for eventually
consistent, a missing item still costs the minimum), a write unit per 1 KB (an update: the item's size after it,
a delete: 1), a transaction twice its items' units. SQS bills a request per 64 KB: one unit per request here.

    .venv/bin/python -m bench requests [--keys 10] [--write]
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

from bench.harness import Environment, Result, Scenario, option
from bench.hit_path import item_size
from bench.report import DOC, write_section

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

CAPACITY = DOC.parent / "CAPACITY.md"
MODEL = "MODEL"  # the marker the spy records when the generator is called
JOIN_MEMO_SECONDS = 60
JOINED_FIRST = "joined miss, its environment's first sight of the job"
JOINED_SEEN = "joined miss, its environment saw the job"


@dataclass
class Request:
    service: str
    operation: str
    table: str = ""
    read_units: float = 0.0
    write_units: float = 0.0
    kind: str = ""  # as the capacity model's recipes name it: read, read_sc (consistent), write, txn

    @property
    def recipe_key(self) -> tuple[str, str]:
        """(table, kind) as ``pregen_tools.capacity.RECIPES`` keys it: ContentTable -> content; a transaction over
        two tables, ContentTable,JobsTable -> content+jobs."""
        return "+".join(t.removesuffix("Table").lower() for t in self.table.split(",")), self.kind


@dataclass
class Spy:
    """Records every AWS request made while ``recording`` (the table by its template name, ``ContentTable`` ...)."""

    tables: dict[str, str]  # physical name -> logical name
    requests: list[Request] = field(default_factory=list)
    recording: bool = False

    @contextlib.contextmanager
    def record(self) -> Iterator[list[Request]]:
        self.requests, self.recording = [], True
        try:
            yield self.requests
        finally:
            self.recording = False

    def patch(self) -> Any:
        from botocore.client import BaseClient
        from botocore.exceptions import ClientError

        original = BaseClient._make_api_call
        spy = self
        alone = threading.Lock()  # one request at a time, as on the local stack: moto's transactions copy tables

        def spying(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            # A request that fails (a conditional write lost, a cancelled transaction) is made and billed too.
            response: Any = {}
            try:
                with alone:
                    response = original(client, operation, params)
            except ClientError as exc:
                response = exc.response
                raise
            finally:
                if spy.recording:
                    service = client.meta.service_model.service_name
                    if service == "dynamodb":
                        spy.requests.append(spy.dynamodb(client, original, operation, params, response))
                    else:
                        spy.requests.append(Request(service, operation, write_units=1.0))
            return response

        return mock.patch.object(BaseClient, "_make_api_call", spying)

    def name(self, table: str) -> str:
        return self.tables.get(table, table)

    def dynamodb(
        self, client: Any, original: Callable[..., Any], operation: str, params: dict[str, Any], response: Any
    ) -> Request:
        """The request with its computed units (see the module's doc)."""

        def after(table: str, key: dict[str, Any]) -> int:  # an item's size once written (not recorded)
            read = original(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True})
            return item_size(read.get("Item", {}))

        found = Request("dynamodb", operation, self.name(params.get("TableName", "")))
        if operation in WRITES:
            tables, found.write_units = WRITES[operation](params, after)
            found.kind = "txn" if operation == "TransactWriteItems" else "write"
        else:
            tables, found.read_units = read_units(operation, params, response)
            consistent = params.get("ConsistentRead") or operation == "TransactGetItems"
            found.kind = "read_sc" if consistent else "read"
        if tables:
            found.table = ",".join(sorted({self.name(t) for t in tables}))
        return found


def write_units(table: str, kind: str, body: dict[str, Any], after: Callable[[str, dict[str, Any]], int]) -> float:
    """One item's write units: a put by its size, an update (or a transaction's condition check) by the item's
    size after it, a delete at the minimum."""
    if kind == "Put":
        return max(1, math.ceil(item_size(body["Item"]) / 1024))
    if kind in ("Update", "ConditionCheck"):
        return max(1, math.ceil(after(table, body["Key"]) / 1024))
    return 1.0


def _single(kind: str) -> Callable[..., tuple[list[str], float]]:
    return lambda params, after: ([], write_units(params["TableName"], kind, params, after))


def _transaction(params: dict[str, Any], after: Callable[..., int]) -> tuple[list[str], float]:
    parts = [next(iter(i.items())) for i in params["TransactItems"]]
    units = 2 * sum(write_units(body["TableName"], kind, body, after) for kind, body in parts)
    return [body["TableName"] for _, body in parts], units


def _batch_write(params: dict[str, Any], after: Callable[..., int]) -> tuple[list[str], float]:
    units = 0.0
    for name, writes in params.get("RequestItems", {}).items():
        for each in writes:
            kind, body = next(iter(each.items()))
            units += write_units(name, kind.removesuffix("Request"), body, after)
    return list(params.get("RequestItems", {})), units


WRITES: dict[str, Callable[..., tuple[list[str], float]]] = {
    "PutItem": _single("Put"),
    "UpdateItem": _single("Update"),
    "DeleteItem": _single("Delete"),
    "TransactWriteItems": _transaction,
    "BatchWriteItem": _batch_write,
}


def read(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def read_units(operation: str, params: dict[str, Any], response: Any) -> tuple[list[str], float]:
    """A read's units (the tables it read, when more than its TableName), from the items it returned."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return [], read(item_size(response.get("Item", {})), consistent)
    if operation in ("Query", "Scan"):
        return [], read(sum(item_size(i) for i in response.get("Items", [])), consistent)
    if operation == "BatchGetItem":
        items = [i for each in response.get("Responses", {}).values() for i in each]
        return list(params.get("RequestItems", {})), sum(read(item_size(i), False) for i in items)
    if operation == "TransactGetItems":
        items = response.get("Responses", [])
        return [], 2 * sum(read(item_size(i.get("Item", {})), True) for i in items)
    return [], 0.0


@dataclass
class Operation:
    """One operation's requests, divided by how many times it ran (``per``)."""

    name: str
    requests: list[Request]
    per: int = 1
    note: str = ""

    def calls(self) -> dict[str, float]:
        counted = Counter(r.operation for r in self.requests)
        return {name: n / self.per for name, n in sorted(counted.items())}

    @property
    def total(self) -> float:
        return len(self.requests) / self.per

    def units(self) -> tuple[float, float, float]:
        """Read units, write units (DynamoDB) and SQS requests, per operation."""
        ddb = [r for r in self.requests if r.service == "dynamodb"]
        return (
            sum(r.read_units for r in ddb) / self.per,
            sum(r.write_units for r in ddb) / self.per,
            sum(1 for r in self.requests if r.service == "sqs") / self.per,
        )

    def recipe(self) -> dict[tuple[str, str], float]:
        """The DynamoDB requests as the capacity model's recipes count them: (table, kind) -> per operation."""
        found: dict[tuple[str, str], float] = defaultdict(float)
        for r in self.requests:
            if r.service == "dynamodb":
                found[r.recipe_key] += 1 / self.per
        return dict(found)

    def by_table(self) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for r in self.requests:
            if r.service == "dynamodb":
                found[r.table][r.operation] += 1 / self.per
        return {t: dict(ops) for t, ops in found.items()}


def _quiet() -> contextlib.AbstractContextManager[Any]:
    """The handlers print EMF metrics to stdout, as on Lambda: kept out of the report."""
    return contextlib.redirect_stdout(io.StringIO())


def measure(keys: int) -> list[Operation]:
    """Run each operation on moto, recording its requests."""
    import boto3

    from aws_emulator.template import Template
    from pregen import usage_log, wiring

    template = Template(overrides={"JwtIssuer": "https://issuer.test", "JwtAudience": "pregen"})
    resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="bench")
    env = template.environment() | {"ANTHROPIC_API_KEY_PARAMETER": "", "CURSOR_KEY_SECRET": ""}
    env |= {"CURSOR_KEY": "cursor-key-for-bench", "HOT_CACHE_SECONDS": "0"}  # a hit's own DynamoDB read
    # a joined miss from memory whatever the machine's speed (default 2 s; the count is the same)
    env |= {"JOIN_MEMO_SECONDS": str(JOIN_MEMO_SECONDS)}
    env |= {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}
    previous = usage_log.set_sink(lambda line: None)
    spy = Spy({physical: logical for logical, physical in resources.tables.items()})
    try:
        with mock.patch.dict(os.environ, env), spy.patch(), _quiet():
            wiring.reset()
            return operations(Steps(resources, spy), spy, keys)
    finally:
        usage_log.set_sink(previous)
        wiring.reset()


def operations(steps: Steps, spy: Spy, keys: int) -> list[Operation]:
    from pregen.wiring import worker as worker_wiring

    ops = steps.serving()
    deps = worker_wiring.worker_deps()
    original = deps.generator.generate

    def marked(*args: Any, **kwargs: Any) -> Any:
        if spy.recording:
            spy.requests.append(Request("model", MODEL))
        return original(*args, **kwargs)

    with mock.patch.object(deps.generator, "generate", marked):
        ops += steps.generation()
    return ops + steps.pregenerate(keys) + steps.vote() + steps.claim()


@dataclass
class Steps:
    resources: Any
    spy: Spy
    lesson: dict[str, str] = field(
        default_factory=lambda: {"kind": "lesson", "subject": "Physics", "topic": "Optics", "grade": "9"}
    )

    def get(self, sub: str) -> tuple[int, Any]:
        from functions.get_content import app as get_content
        from tests.integration.conftest import api_event, call

        status, _, body = call(get_content, api_event("get_content.json", sub=sub, query=self.lesson))
        return status, body

    def serving(self) -> list[Operation]:
        lesson = self.lesson
        self.lesson = {**lesson, "topic": "Refraction"}
        with self.spy.record() as first:
            assert self.get("zoe")[0] == 202
        self.lesson = lesson
        with self.spy.record() as miss:
            assert self.get("alice")[0] == 202
        self.another_environment()
        with self.spy.record() as joined:
            assert self.get("bob")[0] == 202
        with self.spy.record() as seen:
            assert self.get("ben")[0] == 202
        return [
            Operation(
                "miss, an environment's first, before its 202",
                first,
                note="as the next, and the day's spend read for the ceiling (at most once per 30 s an environment)",
            ),
            Operation(
                "miss, before its 202",
                miss,
                note="won the key: one transaction checks the alias, claims it, records the job, charges; enqueues",
            ),
            Operation(JOINED_FIRST, joined, note="the key is in flight: the claim, cancelled, names its job"),
            Operation(
                JOINED_SEEN,
                seen,
                note="it claimed the key, or a claim of it was cancelled, less than JOIN_MEMO_SECONDS ago: joined "
                "from memory",
            ),
        ]

    @staticmethod
    def another_environment() -> None:
        """What the serving functions' environment remembers of markers, forgotten: as another environment."""
        from pregen.wiring.serve import serve_deps

        recent = serve_deps().recent
        assert recent is not None, "JOIN_MEMO_SECONDS is set"
        recent.clear()

    def deliver(
        self, queue: str, *, per_batch: int = 1, record: bool = True, limit: int | None = None
    ) -> tuple[list[Request], int]:
        """Hand a lane's messages to the worker as the event source mapping would, recording only the worker's own
        requests (the mapping's ReceiveMessage and DeleteMessage are the Lambda service's, not billed per item)."""
        import boto3

        from aws_emulator.poller import to_lambda_record
        from aws_emulator.runtime import LambdaContext
        from functions.worker import app as worker
        from pregen.domain.work_budget import WORKER_TIMEOUT_S

        sqs = boto3.client("sqs")
        url, arn = self.resources.queue_urls[queue], self.resources.queue_arns[queue]
        seen: list[Request] = []
        handled = 0
        while limit is None or handled < limit:
            messages = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=per_batch,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                return seen, handled
            event = {"Records": [to_lambda_record(m, arn) for m in messages]}
            context = LambdaContext(function_name="worker", timeout_s=WORKER_TIMEOUT_S)
            with self.spy.record() as requests:
                if not record:
                    self.spy.recording = False
                worker.lambda_handler(event, context)
            seen += requests
            handled += len(messages)
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return seen, handled

    def generation(self) -> list[Operation]:
        first = self.generated()  # the worker environment's first item (zoe's miss)
        requests = self.generated()  # its next (the other miss's): the day's spend is remembered (10 s)
        split = next(i for i, r in enumerate(requests) if r.operation == MODEL)
        with self.spy.record() as hit:
            status, body = self.get("carol")
            assert status == 200, body
        self.content_id = body["content_id"]
        return [
            Operation("hit", hit, note="HOT_CACHE_SECONDS=0: the DynamoDB read (the hot-key cache answers with none)"),
            Operation(
                "generation, an environment's first, around the model call",
                [r for r in first if r.operation != MODEL],
                note="as the next, and the day's spend read for the ceiling (at most once per 10 s an environment)",
            ),
            Operation("generation, before the model call", requests[:split], note="the worker's, for one item"),
            Operation("generation, after the model call", requests[split + 1 :], note="stores it, ends the job"),
        ]

    def generated(self) -> list[Request]:
        """The worker's requests for one queued item, its one model call among them."""
        requests, handled = self.deliver("InteractiveQueue", limit=1)
        assert handled == 1 and sum(r.operation == MODEL for r in requests) == 1, (handled, requests)
        return requests

    def pregenerate(self, keys: int) -> list[Operation]:
        from functions.pre_generate import app as pre_generate
        from tests.integration.conftest import api_event, call

        def batch(topic: str) -> dict[str, Any]:
            wanted = [{**self.lesson, "topic": f"{topic} {i}"} for i in range(keys)]
            return {"priority": 30, "requests": wanted}

        event = api_event("pregenerate.json", sub="teacher-1", role="teacher", body=batch("Waves"))
        with self.spy.record() as new:
            status, _, body = call(pre_generate, event)
            assert status == 202, body
        self.another_environment()
        with self.spy.record() as again:
            assert call(pre_generate, event)[0] == 202
        with self.spy.record() as seen:
            assert call(pre_generate, event)[0] == 202
        for queue in ("InteractiveQueue", "BackgroundQueue"):
            self.deliver(queue, per_batch=10, record=False)
        with self.spy.record() as cached:
            assert call(pre_generate, event)[0] == 202
        return [
            Operation(f"pre-generate, a new key (a batch of {keys})", new, per=keys),
            Operation(f"pre-generate, a key in flight (a batch of {keys})", again, per=keys),
            Operation(
                f"pre-generate, a key in flight its environment saw (a batch of {keys})",
                seen,
                per=keys,
                note="joined from memory, as a joined miss",
            ),
            Operation(f"pre-generate, a cached key (a batch of {keys})", cached, per=keys),
        ]

    def vote(self) -> list[Operation]:
        from functions.library import app as library
        from tests.integration.conftest import api_event, call

        def vote(sub: str, value: str) -> list[Request]:
            event = api_event(
                "library_vote.json",
                sub=sub,
                body={"vote": value},
                path=f"/v1/content/{self.content_id}/votes",
                path_parameters={"content_id": self.content_id},
            )
            with self.spy.record() as requests:
                status, _, body = call(library, event)
                assert status == 200, body
            return requests

        return [
            Operation("vote, a learner's first", vote("dave", "up")),
            Operation("vote, changed", vote("dave", "down")),
        ]

    def claim(self) -> list[Operation]:
        from functions.exams import app as exams
        from tests.integration.conftest import api_event, call

        def claim() -> tuple[int, Any]:
            event = api_event(
                "exams_claim.json",
                sub="erin",
                path="/v1/exams/diagnostic/claim",
                path_parameters={"exam": "diagnostic"},
            )
            status, _, body = call(exams, event)
            return status, body

        assert claim()[0] == 202  # the first claim: an empty inventory, filled behind it
        for queue in ("InteractiveQueue", "BackgroundQueue"):
            self.deliver(queue, per_batch=10, record=False)
        with self.spy.record() as requests:
            status, body = claim()
            assert status == 200, body
        return [Operation("exam claim, from a full inventory", requests, note="with the top-up it starts behind it")]


def report(ops: list[Operation], command: str, seconds: float) -> str:
    lines = [
        "Requests per operation, counted by a spy on botocore in-process on moto (exact: the code makes the same "
        "requests on AWS). Read/write units are **computed** from the items' sizes by DynamoDB's on-demand rules "
        "(4 KB a strongly consistent read unit, half that eventually consistent; 1 KB a write unit; a transaction "
        "twice), not measured. SQS: one request per 64 KB.",
        "",
        f"`{command}` ({seconds:.1f} s; counts do not depend on the machine's load)",
        "",
        "| operation | requests | by API call | DynamoDB read units | write units | SQS requests |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for op in ops:
        reads, writes, sqs = op.units()
        calls = ", ".join(f"{name} {n:g}" for name, n in op.calls().items() if name != MODEL)
        total = op.total - op.calls().get(MODEL, 0)
        lines.append(f"| {op.name} | {total:g} | {calls or '-'} | {reads:g} | {writes:g} | {sqs:g} |")
    lines += ["", "By table (DynamoDB requests per operation):", ""]
    for op in ops:
        tables = "; ".join(
            f"{table}: " + ", ".join(f"{name} {n:g}" for name, n in sorted(calls.items()))
            for table, calls in sorted(op.by_table().items())
        )
        note = f" ({op.note})" if op.note else ""
        lines.append(f"- {op.name}{note}: {tables or 'none'}")
    return "\n".join(lines)


# Which measured operations each recipe of the capacity model stands for (a generation: both halves of it).
RECIPE_OF = {
    "hit": ("hit",),
    "miss": ("miss, before its 202",),
    "join": (JOINED_FIRST,),  # the model counts every join at its full price: the memory's share depends on traffic
    "generation": ("generation, before the model call", "generation, after the model call"),
}


def recipe_differences(ops: list[Operation]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per recipe of ``pregen_tools.capacity.RECIPES`` that a measured operation stands for, each (table, kind)
    where the recipe and the measured requests differ: (recipe, measured)."""
    from pregen_tools.capacity import RECIPES

    named = {op.name: op for op in ops}
    new_key = next(op for op in ops if op.name.startswith("pre-generate, a new key"))
    cached = next(op for op in ops if op.name.startswith("pre-generate, a cached key"))
    measured: dict[str, dict[tuple[str, str], float]] = {}
    for recipe, names in RECIPE_OF.items():
        measured[recipe] = defaultdict(float)
        for name in names:
            for key, n in named[name].recipe().items():
                measured[recipe][key] += n
    # pre-generate: every key is checked (a cached key: only that); a new one is then enqueued
    measured["check"] = cached.recipe()
    new = new_key.recipe()
    measured["enqueue"] = {k: new.get(k, 0) - measured["check"].get(k, 0) for k in new | measured["check"]}
    found: dict[str, dict[str, tuple[float, float]]] = {}
    for recipe, counts in measured.items():
        keys = set(RECIPES[recipe]) | {k for k, n in counts.items() if n}
        off = {
            f"{table} {kind}": (RECIPES[recipe].get((table, kind), 0.0), round(counts.get((table, kind), 0.0), 3))
            for table, kind in sorted(keys)
            if abs(RECIPES[recipe].get((table, kind), 0.0) - counts.get((table, kind), 0.0)) > 1e-9
        }
        if off:
            found[recipe] = off
    return found


def figures(ops: list[Operation]) -> dict[str, Any]:
    return {op.name: {"requests": op.total, "calls": op.calls(), "units": op.units()} for op in ops}


def run(args: argparse.Namespace) -> Result:
    started = time.monotonic()
    with Environment("moto"):
        ops = measure(args.keys)
    markdown = report(ops, args.command, time.monotonic() - started)
    differences = recipe_differences(ops)
    if differences:
        markdown += (
            "\n\nWhere the capacity model's recipes (`pregen_tools.capacity.RECIPES`) differ from these counts "
            + (
                "(recipe, measured): "
                + json.dumps({r: {k: list(v) for k, v in off.items()} for r, off in differences.items()})
            )
        )
    else:
        markdown += "\n\nThe capacity model's recipes (`pregen_tools.capacity.RECIPES`) match these counts."
    if args.write:  # the table docs/CAPACITY.md builds on
        write_section("requests", markdown, doc=CAPACITY)
    return Result(markdown=markdown, command=args.command, figures=figures(ops))


SCENARIO = Scenario(
    name="requests",
    doc=__doc__,
    run=run,
    options=(option("--keys", type=int, default=10, help="keys in the pre-generate batch (default 10)"),),
)
