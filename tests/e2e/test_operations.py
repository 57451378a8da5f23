"""Operations on the local stack: the dashboard in headless Chromium, and the ops CLI's dead-letter redrive."""

from __future__ import annotations

import json
import time
import uuid
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from pregen.adapters.jobs import DynamoJobStore
from pregen.domain.keys import cache_key
from pregen.domain.models import Caller, ContentRequest, Job, JobStatus, Lane
from pregen_tools import cli, ops, tokens
from tests.e2e.chromium import dump_dom
from tests.e2e.test_local_stack import http

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e


class Points(HTMLParser):
    """Collects the charts' data points: svg id → [(label, value)], and the page's ready flag."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, list[tuple[str, float]]] = {}
        self.current: str | None = None
        self.ready: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body":
            self.ready = values.get("data-ready")
        if tag == "svg" and values.get("id", "").startswith("chart-"):
            self.current = values["id"]
            self.charts[self.current] = []
        if self.current and values.get("class") == "point":
            self.charts[self.current].append((str(values["data-label"]), float(values["data-value"] or 0)))


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail("timed out waiting")


def analytics(stack: dict[str, str]) -> dict[str, Any]:
    status, _, body = http(f"{stack['url']}/v1/analytics", tokens.mint("e2e-ops", "admin"))
    assert status == 200
    return dict(body)


def test_the_dashboard_renders_the_analytics_figures_in_headless_chromium(stack: dict[str, str]) -> None:
    # Given a miss, its generation and two hits on the local stack
    token = tokens.mint("e2e-dash", "student")
    url = f"{stack['url']}/v1/content?kind=lesson&subject=Chemistry&topic=Dashboards-{uuid.uuid4().hex[:6]}"
    before = analytics(stack)["hits"]
    assert http(url, token)[0] == 202
    wait_for(lambda: http(url, token)[0] == 200)
    assert http(url, token)[0] == 200
    # And the usage aggregator has counted the hits (log lines → stats items → stream)
    wait_for(lambda: analytics(stack)["hits"] >= before + 2)

    # When the dashboard is opened in headless Chromium, while the figures it charts hold still: other tests share
    # the stack and hits are counted seconds later, so a render counts only when the days read before and after it
    # agree (the queues' depths and the timestamp move on their own; the chart's queue names do not)
    def charted(figures: dict[str, Any]) -> tuple[Any, list[str]]:
        return figures["daily"], list(figures["queues"])

    def settled_render() -> tuple[Points, dict[str, Any]] | None:
        figures = analytics(stack)
        page = Points()
        page.feed(dump_dom(f"{stack['url']}/dashboard"))
        return (page, figures) if charted(analytics(stack)) == charted(figures) else None

    page, figures = wait_for(settled_render, timeout=90)
    # Then its charts show the API's figures, day by day and queue by queue
    assert page.ready == "true"
    days = [d["day"] for d in figures["daily"]]
    assert page.charts["chart-hit-rate"] == [(d["day"], d["hitRate"]) for d in figures["daily"]]
    assert page.charts["chart-generated"] == [(d["day"], d["generated"]) for d in figures["daily"]]
    assert page.charts["chart-cost"] == [(d["day"], d["costUsd"]) for d in figures["daily"]]
    assert [label for label, _ in page.charts["chart-queues"]] == list(figures["queues"])
    courses = figures["courses"]
    in_progress = max(0, courses["started"] - courses["ready"] - courses["failed"])
    assert page.charts["chart-courses"] == [
        ("in_progress", in_progress),
        ("ready", courses["ready"]),
        ("failed", courses["failed"]),
    ]
    assert len(days) == 7 and page.charts["chart-generated"][-1][1] >= 1
    assert page.charts["chart-hit-rate"][-1][1] > 0


def _state_file(stack: dict[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(stack))
    return path


def pregen(args: list[str], state: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main([*args, "--state-file", str(state)])
    out = capsys.readouterr().out
    return code, out


def test_a_poison_message_is_listed_in_the_dlq_and_redrive_brings_it_back_to_complete(
    stack: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state_file(stack, tmp_path)
    aws = {
        "endpoint_url": stack["aws_endpoint"],  # SQS (moto)
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    # DynamoDB is DynamoDB Local where Java is installed, moto otherwise: the stack says where
    dynamodb = boto3.client("dynamodb", **{**aws, "endpoint_url": stack["dynamodb_endpoint"]})
    sqs = boto3.client("sqs", **aws)
    request = ContentRequest.model_validate({"kind": "lesson", "subject": "Poison", "topic": uuid.uuid4().hex})
    key = cache_key(request, Caller(sub="ops"))
    job_id = f"poison{uuid.uuid4().hex[:10]}"
    now = time.time()
    # Given a job whose key another worker holds a long lease on (it will fail every delivery)
    DynamoJobStore(stack["tables"]["JobsTable"], 7, dynamodb).put_job(
        Job(
            job_id=job_id,
            key=key,
            kind=request.kind,
            status=JobStatus.QUEUED,
            request=request.canonical(),
            lane=Lane.INTERACTIVE,
            priority=50,
            created_at=now,
            updated_at=now,
            correlation_id="poison-corr",
        )
    )
    dynamodb.put_item(
        TableName=stack["tables"]["ContentTable"],
        Item={
            "pk": {"S": key},
            "sk": {"S": "inflight"},
            "state": {"S": "generating"},
            "job_id": {"S": "someone-else"},
            "lane": {"S": "interactive"},
            "lease_owner": {"S": "another-worker"},
            "lease_until": {"N": str(int(now + 3600))},
            "expires_at": {"N": str(int(now + 3600))},
        },
    )
    body = {
        "job_id": job_id,
        "key": key,
        "request": request.canonical(),
        "priority": 50,
        "correlation_id": "poison-corr",
    }
    sqs.send_message(QueueUrl=stack["queues"]["InteractiveQueue"], MessageBody=json.dumps(body))

    # When its deliveries run out, then `pregen dlq list` shows it
    def listed() -> bool:
        code, out = pregen(["dlq", "list", "--lane", "interactive"], state, capsys)
        return code == 0 and job_id in out

    wait_for(listed, timeout=60, interval=1)
    code, out = pregen(["queue", "status"], state, capsys)
    assert code == 0 and "interactive DLQ" in out
    # Given the other lease is gone
    dynamodb.delete_item(TableName=stack["tables"]["ContentTable"], Key={"pk": {"S": key}, "sk": {"S": "inflight"}})
    # When the DLQ is redriven
    code, out = pregen(["dlq", "redrive", "--lane", "interactive"], state, capsys)
    assert code == 0 and "moved 1 message" in out

    # Then the job completes and the DLQ no longer holds it
    def done() -> bool:
        code, out = pregen(["job", "show", job_id], state, capsys)
        return code == 0 and json.loads(out)["status"] == "done"

    wait_for(done, timeout=60, interval=1)
    code, out = pregen(["job", "show", job_id], state, capsys)
    assert json.loads(out)["correlation_id"] == "poison-corr"
    code, out = pregen(["dlq", "list", "--lane", "interactive"], state, capsys)
    assert job_id not in out


def test_the_cli_reports_stats_and_warms_a_grade(
    stack: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = _state_file(stack, tmp_path)
    code, out = pregen(["stats", "--json"], state, capsys)
    assert code == 0 and set(json.loads(out)) == set(analytics(stack))
    code, out = pregen(["stats"], state, capsys)
    assert code == 0 and "hit rate" in out and "interactive_dlq" in out
    code = cli.main(["job", "show", "no-such-job", "--state-file", str(state)])
    assert code == 1 and "no job" in capsys.readouterr().err
    code = cli.main(["warm", "--grade", "10", "--subject", "algebra_1", "--state-file", str(state)])
    err = capsys.readouterr().err
    assert code == 0, err  # jobs queued and followed to the end
    assert "queued" in err


def test_following_jobs_draws_progress_until_every_job_is_done(stack: dict[str, str], tmp_path: Path) -> None:
    # Given three requests pre-generated at the warming priority (what `pregen warm` follows after POST /v1/warm)
    target = ops.local_target(_state_file(stack, tmp_path))
    topic = uuid.uuid4().hex[:8]
    requests = [{"kind": "lesson", "subject": "Geography", "topic": f"{topic}-{i}"} for i in range(3)]
    status, body = target.call("POST", "/v1/pregenerate", {"priority": 30, "requests": requests})
    assert status == 202
    job_ids = [r["job_id"] for r in body["results"]]
    # When the CLI follows them
    progress: list[tuple[int, int, int]] = []
    final = ops.follow_jobs(target, job_ids, timeout_s=60, interval_s=0.3, on_progress=lambda *p: progress.append(p))
    # Then every job ends done and the bar ends full
    assert final == dict.fromkeys(job_ids, "done")
    assert progress[-1] == (3, 0, 3)
    assert ops.progress_bar(*progress[-1], width=3) == "[###] 3/3"
