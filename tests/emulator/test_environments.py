"""The local stack's execution environments (aws_emulator.environments): one process per environment, one event
at a time, growing on demand to the function's limit, and a failure that takes down only its own environment."""

from __future__ import annotations

import base64
import gzip
import http.client
import itertools
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

from aws_emulator.environments import FunctionPool, InvocationFailed
from aws_emulator.front import Front, serve
from aws_emulator.logs import LogSubscriptions
from aws_emulator.poller import QueuePoller
from aws_emulator.template import FunctionSpec, LogSubscription, Route

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MODULE = "tests.emulator.handlers"


def _decoded(event: dict[str, Any]) -> dict[str, Any]:
    """The batch inside a CloudWatch Logs subscription event (gzipped JSON in base64)."""
    payload: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    return payload


def spec(
    handler: str, *, timeout: int = 10, name: str = "Fn", environment: dict[str, str] | None = None
) -> FunctionSpec:
    return FunctionSpec(logical_id=name, module=MODULE, handler=handler, timeout=timeout, environment=environment or {})


@pytest.fixture
def pools() -> Iterator[list[FunctionPool]]:
    made: list[FunctionPool] = []
    yield made
    for pool in made:
        pool.stop()


def make(pools: list[FunctionPool], handler: str, limit: int, **kwargs: Any) -> FunctionPool:
    pool = FunctionPool(
        spec(handler, **{k: v for k, v in kwargs.items() if k in {"timeout", "name"}}),
        limit,
        log_sink=kwargs.get("log_sink"),
    )
    pools.append(pool)
    return pool


def test_an_environment_handles_one_event_at_a_time(pools: list[FunctionPool]) -> None:
    pool = make(pools, "slow", limit=1)
    with ThreadPoolExecutor(4) as executor:
        answers = list(executor.map(lambda _: pool.invoke({"seconds": 0.2}), range(4)))
    assert len({a["pid"] for a in answers}) == 1  # one environment, reused
    spans = sorted((a["began"], a["ended"]) for a in answers)
    for (_, ended), (began, _) in itertools.pairwise(spans):
        assert began >= ended  # never two events in it at once


def test_the_pool_grows_on_demand_to_its_limit_and_reuses_warm_environments(pools: list[FunctionPool]) -> None:
    pool = make(pools, "slow", limit=3)
    with ThreadPoolExecutor(6) as executor:
        answers = list(executor.map(lambda _: pool.invoke({"seconds": 0.5}), range(6)))
    pids = {a["pid"] for a in answers}
    assert len(pids) == 3 and pool.size == 3
    assert pool.figures.cold_starts == 3 and len(pool.figures.init_ms) == 3
    again = pool.invoke({"seconds": 0})
    assert again["pid"] in pids and pool.figures.cold_starts == 3  # warm: no new environment


def test_environments_are_told_how_they_were_initialised_as_lambda_tells_them(pools: list[FunctionPool]) -> None:
    # Handlers prime in init only inside Lambda's runtime: AWS_LAMBDA_INITIALIZATION_TYPE
    pool = make(pools, "echo", limit=2)
    pool.warm(1)  # started with the stack: provisioned concurrency's analogue
    barrier = threading.Barrier(2, timeout=10)

    def both_busy(_: int) -> dict[str, Any]:
        barrier.wait()
        return dict(pool.invoke({"hold": 0.5}))  # each holds its environment: the second needs a new one

    with ThreadPoolExecutor(2) as executor:
        answers = list(executor.map(both_busy, range(2)))
    assert sorted(a["initialization_type"] for a in answers) == ["on-demand", "provisioned-concurrency"]


def test_a_handler_that_raises_fails_its_invocation_and_its_environment_stays(pools: list[FunctionPool]) -> None:
    pool = make(pools, "raises", limit=1)
    first = pool.invoke({})["pid"]
    with pytest.raises(InvocationFailed) as failed:
        pool.invoke({"fail": True})
    assert failed.value.kind == "ValueError"
    assert pool.invoke({})["pid"] == first  # as on Lambda's Python runtime: the environment is kept


def test_a_handler_that_kills_its_process_takes_down_only_its_environment(pools: list[FunctionPool]) -> None:
    pool = make(pools, "dies", limit=2)
    pool.warm(2)
    survivors = set()
    with ThreadPoolExecutor(2) as executor:
        # two environments busy at once: one dies, the other answers
        crash = executor.submit(pool.invoke, {"die": True})
        survivors.add(executor.submit(pool.invoke, {}).result()["pid"])
        with pytest.raises(InvocationFailed) as failed:
            crash.result()
    assert failed.value.kind == "Runtime.ExitError"
    assert pool.size == 1 and pool.figures.environments_lost == 1
    assert pool.invoke({})["pid"] in survivors  # the other environment carries on


def test_a_handler_past_its_timeout_is_stopped_and_its_environment_replaced(pools: list[FunctionPool]) -> None:
    pool = make(pools, "slow", limit=1, timeout=1)
    before = pool.invoke({"seconds": 0})["pid"]
    started = time.monotonic()
    with pytest.raises(InvocationFailed) as failed:
        pool.invoke({"seconds": 30})
    assert failed.value.kind == "Sandbox.Timedout"
    assert time.monotonic() - started < 5
    assert pool.invoke({"seconds": 0})["pid"] != before  # a new environment: a cold start
    assert pool.figures.timeouts == 1


def test_usage_lines_printed_in_an_environment_reach_the_log_subscription(pools: list[FunctionPool]) -> None:
    delivered: list[dict[str, Any]] = []

    class Aggregator:
        spec = spec("echo", name="Aggregator")

        def invoke(self, event: dict[str, Any]) -> None:
            delivered.append(event)

    subscription = LogSubscription("Hits", source="GetContent", function="Aggregator", pattern='{ $.usage = "hit" }')
    subscriptions = LogSubscriptions([subscription], {"Aggregator": Aggregator()})  # type: ignore[dict-item]
    get_content = make(pools, "counts_a_hit", limit=2, name="GetContent", log_sink=subscriptions.route)
    other = make(pools, "counts_a_hit", limit=1, name="Other", log_sink=subscriptions.route)
    for key in ("k1", "k2"):
        get_content.invoke({"key": key})
    other.invoke({"key": "not-subscribed"})
    deadline = time.monotonic() + 5
    while subscriptions.flush() < 2 and time.monotonic() < deadline and not delivered:
        time.sleep(0.05)
    lines = [e["message"] for event in delivered for e in _decoded(event)["logEvents"]]
    assert sorted(json.loads(line)["key"] for line in lines) == ["k1", "k2"]


def test_the_api_caller_gets_what_api_gateway_gives_when_the_function_fails(pools: list[FunctionPool]) -> None:
    crashing = make(pools, "dies", limit=1, name="Crashes")
    slow = make(pools, "slow", limit=1, timeout=1, name="Slow")
    front = Front(
        [Route("GET", "/crash", "Crashes", authorized=False), Route("GET", "/slow", "Slow", authorized=False)],
        {"Crashes": crashing, "Slow": slow},  # type: ignore[dict-item]
    )
    server = serve(front, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        connection.request("GET", "/crash?die=1")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (500, {"message": "Internal Server Error"})
        connection.request("GET", "/slow?seconds=30")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (503, {"message": "Service Unavailable"})
    finally:
        server.shutdown()


@pytest.mark.parametrize("visibility_timeout", [0, 300])
def test_a_batch_whose_environment_dies_returns_to_its_queue_after_its_visibility_timeout(
    pools: list[FunctionPool], visibility_timeout: int
) -> None:
    worker = make(pools, "dies", limit=1, name="Worker")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        attributes = {"VisibilityTimeout": str(visibility_timeout)}
        url = sqs.create_queue(QueueName="lane", Attributes=attributes)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="{}")
        poller = QueuePoller(
            sqs,
            queue_url=url,
            queue_arn="arn:aws:sqs:us-east-1:123456789012:lane",
            function=worker,
            batch_size=10,
            concurrency=1,
        )
        assert poller.poll_once() == 1 and poller.failed == 1
        again = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"]).get("Messages", [])
        if visibility_timeout:  # the queue's visibility timeout (past the worker's lease, as AWS's): not back yet
            assert again == [] and _visible(sqs, url) == (0, 1)
        else:
            assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"


def test_warm_starts_the_environments_side_by_side(pools: list[FunctionPool], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a function whose init takes 1.5 s (three inits in a row: at least 4.5 s); environments take the stack's
    # process environment
    monkeypatch.setenv("INIT_SECONDS", "1.5")
    pool = make(pools, "echo", limit=4)
    # When three environments are warmed
    began = time.perf_counter()
    pool.warm(3)
    together = time.perf_counter() - began
    # Then they started side by side: well under three inits in a row (the margin is the processes' own start)
    assert pool.size == 3
    assert together < 3.5


def _eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _queue(sqs: Any, count: int) -> str:
    url: str = sqs.create_queue(QueueName="ahead", Attributes={"VisibilityTimeout": "300"})["QueueUrl"]
    for i in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}))
    return url


def _visible(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
def ahead(pools: list[FunctionPool]) -> Iterator[Callable[[int], tuple[Any, str, QueuePoller]]]:
    """A queue of ``count`` messages and a started poller (batch size 1, one loop) feeding a slow function."""
    worker = make(pools, "records", limit=1, name="Worker")
    worker.warm(1)
    with mock_aws():

        def start(count: int) -> tuple[Any, str, QueuePoller]:
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = _queue(sqs, count)
            poller = QueuePoller(
                sqs,
                queue_url=url,
                queue_arn="arn:aws:sqs:us-east-1:123456789012:ahead",
                function=worker,
                batch_size=1,
                concurrency=1,
            )
            poller.start()
            return sqs, url, poller

        yield start


def test_the_poller_receives_the_next_batch_while_the_function_works(
    ahead: Callable[[int], tuple[Any, str, QueuePoller]],
) -> None:
    sqs, url, poller = ahead(3)
    try:
        # One batch in the function, the next already received: two in flight, one still queued.
        assert _eventually(lambda: _visible(sqs, url) == (1, 2))
        assert _eventually(lambda: poller.delivered == 3)
    finally:
        poller.stop()
    assert poller.failed == 0
    assert _visible(sqs, url) == (0, 0)  # every message deleted once done, by the deleter


def test_a_batch_received_ahead_is_visible_again_when_the_poller_stops(
    ahead: Callable[[int], tuple[Any, str, QueuePoller]],
) -> None:
    sqs, url, poller = ahead(2)
    assert _eventually(lambda: _visible(sqs, url) == (0, 2))  # one in the function, one received ahead
    poller.stop()  # the first batch finishes; the second, received ahead, was never invoked
    assert poller.delivered == 1
    assert _visible(sqs, url) == (1, 0)  # back at once, not after the 300 s visibility timeout


def test_environments_idle_too_long_are_retired_and_the_kept_ones_stay(pools: list[FunctionPool]) -> None:
    pool = FunctionPool(spec("echo"), 3, idle_seconds=0.2, keep=1)
    pools.append(pool)
    pool.warm(3)
    assert pool.retire_idle() == 0  # just started: none idle long enough
    time.sleep(0.3)
    used = pool.invoke({})["pid"]  # one is used again: idle afresh, it stays
    assert pool.retire_idle() == 2 and pool.size == 1 and pool.figures.retired == 2
    assert pool.invoke({})["pid"] == used
    time.sleep(0.3)
    assert pool.retire_idle() == 0 and pool.size == 1  # never below what is kept (provisioned)
    assert pool.invoke({})["pid"] == used and pool.figures.cold_starts == 0


def test_a_pool_without_idle_seconds_keeps_every_environment(pools: list[FunctionPool]) -> None:
    pool = make(pools, "echo", limit=2)
    pool.warm(2)
    time.sleep(0.05)
    assert pool.retire_idle() == 0 and pool.size == 2


def test_background_environments_yield_the_cpu_to_the_apis(pools: list[FunctionPool]) -> None:
    # The stack starts the environments of functions no route invokes (worker, aggregator) at a lower priority:
    # those started with the stack and those started on demand
    background = FunctionPool(spec("echo", name="Worker"), 2, nice=10)
    api = FunctionPool(spec("echo", name="Api"), 2)
    pools.extend([background, api])
    background.warm(1)
    with ThreadPoolExecutor(2) as executor:
        answers = list(executor.map(lambda _: background.invoke({"hold": 0.5}), range(2)))
    assert len({a["pid"] for a in answers}) == 2
    base = os.getpriority(os.PRIO_PROCESS, 0)
    for answer in answers:
        assert os.getpriority(os.PRIO_PROCESS, answer["pid"]) == min(base + 10, 19)
    assert os.getpriority(os.PRIO_PROCESS, api.invoke({})["pid"]) == base
