"""Integration set-up: moto's in-process AWS, with the tables and queues created from template.yaml."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
import jsonschema
import pytest
from botocore.client import BaseClient
from moto import mock_aws

from aws_emulator.logs import awslogs_event
from aws_emulator.moto_server import fixes_in_process
from aws_emulator.poller import to_lambda_record
from aws_emulator.runtime import LambdaContext
from aws_emulator.template import Resources, Template
from pregen import usage_log, wiring
from pregen.domain.clock import FrozenClock
from pregen.domain.work_budget import WORKER_TIMEOUT_S
from pregen.wiring import analytics as analytics_wiring
from pregen.wiring import exams as exams_wiring
from pregen.wiring import serve as serve_wiring
from pregen.wiring import worker as worker_wiring
from tests.conftest import load_event

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass
class Aws:
    resources: Resources
    template: Template
    env: dict[str, str]
    # Hit and miss lines get-content printed (pregen.usage_log): what CloudWatch Logs would hold for the subscription.
    usage_lines: list[str] = field(default_factory=list)

    @property
    def sqs(self) -> Any:
        return boto3.client("sqs")

    @property
    def dynamodb(self) -> Any:
        return boto3.client("dynamodb")

    def queue_url(self, logical_id: str) -> str:
        return self.resources.queue_urls[logical_id]

    def depth(self, logical_id: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture(scope="session", autouse=True)
def _moto_as_the_local_stack_runs_it() -> Iterator[None]:
    """The local stack's moto fixes (aws_emulator/moto_server.py) for the whole tier, as its server runs them: a
    transaction copies the items it names for its rollback, not every table (moto deep-copies the tables, so a 99-item
    transaction cost seconds), and SQS checks visibility without building datetimes. Same behaviour, about a third
    less CPU across the tier (a moved-clock rerun: 321 s of CPU against 500 s, same tests passing); an emulator test
    that starts a MotoServer applied them anyway for the rest of the session."""
    with fixes_in_process():
        yield


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    with mock_aws():
        template = Template(overrides={"JwtIssuer": "https://issuer.test", "JwtAudience": "pregen"})
        resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"), prefix="test")
        env = template.environment()
        env["ANTHROPIC_API_KEY_PARAMETER"] = ""
        env["CURSOR_KEY_SECRET"] = ""  # the listings sign their cursors with a test key, as the local stack does
        env["CURSOR_KEY"] = "cursor-key-for-tests"
        # The tests' clocks are frozen, so a remembered marker's window (JOIN_MEMO_SECONDS) would never end: a key
        # asked again after its job ran would keep joining the finished job. Off here; on in the tests about it
        # (test_recent_markers.py, test_requests_bench.py) and in the unit tests, whose clocks move.
        env["JOIN_MEMO_SECONDS"] = "0"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        wiring.reset()
        # A key's claim is a transaction, and moto deep-copies the tables a transaction names while other threads
        # (a pre-generation's keys, side by side) write them: each DynamoDB request runs alone, as on the local stack
        monkeypatch.setattr(BaseClient, "_make_api_call", _one_dynamodb_request_at_a_time(BaseClient._make_api_call))
        found = Aws(resources=resources, template=template, env=env)
        previous = usage_log.set_sink(found.usage_lines.append)
        try:
            yield found
        finally:
            usage_log.set_sink(previous)
            wiring.reset()


def _one_dynamodb_request_at_a_time(original: Any) -> Any:
    lock = threading.Lock()

    def serialized(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name != "dynamodb":
            return original(self, operation, params)
        with lock:
            return original(self, operation, params)

    return serialized


@pytest.fixture
def atomic_requests() -> Iterator[None]:
    """Make each DynamoDB request atomic, as the real service is: moto's in-process backend evaluates a
    condition and then writes without a lock, so concurrent conditional writes can both "win" under moto.
    Threads still interleave between requests, which is what the concurrency tests are about. (The ``aws``
    fixture now does this for every test; kept for the tests that name it, and harmless twice.)"""
    with mock.patch.object(BaseClient, "_make_api_call", _one_dynamodb_request_at_a_time(BaseClient._make_api_call)):
        yield


def freeze(at: float) -> FrozenClock:
    """One frozen clock for the serving, worker and analytics dependencies (built once, like a warm container), so
    a test reads the days it wrote, whatever the calendar says."""
    clock = FrozenClock(at)
    serve_wiring.serve_deps().clock = clock
    worker_wiring.worker_deps().clock = clock
    analytics_wiring.analytics_deps().clock = clock
    exams_wiring.exam_deps().clock = clock
    worker_wiring.exam_worker_deps().clock = clock
    return clock


def api_event(
    name: str,
    *,
    sub: str = "alice",
    role: str = "student",
    query: dict[str, str] | None = None,
    body: Any = None,
    path: str | None = None,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A sample event from events/, as a given caller (their role a Cognito group, as HTTP API hands it over),
    with the request parts replaced."""
    event = copy.deepcopy(load_event(name))
    event["requestContext"]["authorizer"]["jwt"]["claims"].update({"sub": sub, "cognito:groups": f"[{role}]"})
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if path is not None:
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
    return event


_DOCUMENT_BUILT = threading.Lock()


def _document() -> dict[str, Any]:
    """The OpenAPI document, built once. Under a lock: tests calling handlers from several threads would otherwise
    build it at once, and Powertools' schema generation shares the routes' fields (a KeyError in one of them)."""
    with _DOCUMENT_BUILT:
        return _built_document()


@functools.cache
def _built_document() -> dict[str, Any]:
    from pregen_tools import openapi

    return openapi.document()


def assert_documented(route_key: str, status: int, body: Any) -> None:
    """The answer is one the OpenAPI document declares for the route, and its body has the declared schema: every
    integration test that calls an API function checks the contract it relies on."""
    method, path = route_key.split(" ", 1)
    document = _document()
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{route_key} answered {status}, which the document does not declare"
    if "content" not in responses[str(status)]:
        assert body is None, f"{route_key} {status}: the document declares no body, the answer has one"
        return
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": document["components"]})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, f"{route_key} {status}: the body does not match the document: {errors[:5]}"


def lambda_environments(module: Any, n: int) -> list[Any]:
    """``n`` copies of a function's module, each with its own resolver, as ``n`` Lambda environments have. An
    environment takes one event at a time and Powertools' resolver keeps the request it is answering on itself, so
    threads calling one copy at once would mix their requests (a KeyError, another caller's query): a test that
    calls a handler from several threads gives each thread its own copy."""
    import importlib.util

    copies = []
    for i in range(n):
        spec = importlib.util.spec_from_file_location(f"{module.__name__}_environment_{i}", module.__file__)
        assert spec is not None and spec.loader is not None
        copy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(copy)
        copies.append(copy)
    return copies


def call(module: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = module.lambda_handler(event, LambdaContext(function_name="test", timeout_s=30))
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    body = json.loads(response["body"]) if response.get("body") else None
    if "routeKey" in event:
        assert_documented(event["routeKey"], response["statusCode"], body)
    return response["statusCode"], headers, body


_log_event_ids = itertools.count(1)  # CloudWatch Logs event ids are unique


def deliver_usage_lines(aws: Aws) -> dict[str, Any]:
    """Deliver the hit and miss lines printed so far to the usage aggregator, as the template's log subscription does
    (one batch); returns the subscription event, so a test can deliver it again."""
    from functions.usage_aggregator import app as usage_aggregator

    (subscription,) = aws.template.log_subscriptions()
    lines, aws.usage_lines[:] = list(aws.usage_lines), []
    log_events = [{"id": f"{next(_log_event_ids):056d}", "timestamp": 0, "message": line} for line in lines]
    event = awslogs_event(log_events, log_group="/aws/lambda/GetContentFunction", filter_name="hits")
    usage_aggregator.lambda_handler(event, LambdaContext(function_name=subscription.function, timeout_s=60))
    return event


def run_worker(aws: Aws, queue: str = "InteractiveQueue", *, max_batches: int = 50) -> list[dict[str, Any]]:
    """Deliver what is on a lane's queue to the worker, batch by batch, as the event source mapping would."""
    from functions.worker import app as worker

    sqs = aws.sqs
    url = aws.queue_url(queue)
    arn = aws.resources.queue_arns[queue]
    results = []
    for _ in range(max_batches):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        result = worker.lambda_handler(
            {"Records": [to_lambda_record(m, arn) for m in messages]},
            LambdaContext(function_name="worker", timeout_s=WORKER_TIMEOUT_S),
        )
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        results.append(result)
    return results


def deliver_twice_at_once(
    records: list[dict[str, Any]], owner: Any, method: str, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """The same worker records delivered by two invocations at once (SQS's at-least-once delivery), their calls of
    ``owner.method`` made in pairs at the same moment (a barrier); the two invocations' results."""
    from functions.worker import app as worker

    original = getattr(owner, method)
    together = threading.Barrier(2, timeout=10)

    def at_once(*args: Any, **kwargs: Any) -> Any:
        together.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, method, at_once)
    results: list[dict[str, Any]] = []

    def deliver() -> None:
        results.append(
            worker.lambda_handler({"Records": records}, LambdaContext(function_name="worker", timeout_s=900))
        )

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(owner, method, original)
    return results


def message_batches_on(server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fixture's body: the worker and the cron function talk to the fake Anthropic ``server`` (reset), with
    Message Batches on for the background lane; batches end unless a test holds them."""
    server.reset()
    server.hold_batches = False
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-fake")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
    monkeypatch.setenv("BATCH_BACKGROUND", "true")
    wiring.reset()
    yield server
    server.hold_batches = False


def received_once(aws: Aws, queue: str = "BackgroundQueue") -> list[dict[str, Any]]:
    """Up to 10 of a lane's messages as Lambda records, received once and deleted: each can then be delivered at
    will."""
    url = aws.queue_url(queue)
    messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])
    for m in messages["Messages"]:
        aws.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return [to_lambda_record(m, aws.resources.queue_arns[queue]) for m in messages["Messages"]]
