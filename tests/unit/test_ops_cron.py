"""`pregen cron run TASK`: starts the task (202 with a run), follows the run's Location, prints the run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pregen_tools import cli, ops

if TYPE_CHECKING:
    import pytest

RUN_ID = "0123456789abcdef0123456789abcdef"


class FakeApi(ops.Target):
    """The API's answers in order: the start, then each read of the run."""

    def __init__(self, answers: list[tuple[int, Any]]) -> None:
        super().__init__(api_url="https://api.test", queue_urls={}, token="t", local=False)
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        self.calls.append((method, path))
        return self.answers.pop(0)


def _run(status: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": RUN_ID, "task": "inventory_topup", "status": status, **extra}


def test_it_follows_the_run_until_done_and_prints_the_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api = FakeApi(
        [
            (202, _run("queued", joined=False)),
            (200, _run("running")),
            (200, _run("done", result={"exams_enqueued": 4})),
        ]
    )
    monkeypatch.setattr(ops, "resolve_target", lambda args: api)
    monkeypatch.setattr(ops.time, "sleep", lambda s: None)
    assert cli.main(["cron", "run", "inventory_topup"]) == 0
    assert api.calls == [
        ("POST", "/v1/ops/cron/inventory_topup"),
        ("GET", f"/v1/ops/cron/runs/{RUN_ID}"),
        ("GET", f"/v1/ops/cron/runs/{RUN_ID}"),
    ]
    out = capsys.readouterr()
    assert json.loads(out.out)["result"] == {"exams_enqueued": 4}
    assert [line.rsplit(": ", 1)[1] for line in out.err.splitlines()] == ["queued", "running", "done"]


def test_a_failed_run_exits_1_and_a_refused_start_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ops.time, "sleep", lambda s: None)
    api = FakeApi([(202, _run("running", joined=True)), (200, _run("failed", error="RuntimeError: boom"))])
    monkeypatch.setattr(ops, "resolve_target", lambda args: api)
    assert cli.main(["cron", "run", "inventory_topup"]) == 1
    out = capsys.readouterr()
    assert json.loads(out.out)["error"] == "RuntimeError: boom"
    assert "joined the task's run in progress" in out.err

    api = FakeApi([(400, {"error": {"code": "invalid_request", "message": "unknown task 'nope'"}})])
    monkeypatch.setattr(ops, "resolve_target", lambda args: api)
    assert cli.main(["cron", "run", "nope"]) == 1
    assert "HTTP 400: unknown task 'nope'" in capsys.readouterr().err


def test_no_wait_prints_the_queued_run_without_following(monkeypatch: pytest.MonkeyPatch) -> None:
    api = FakeApi([(202, _run("queued", joined=False))])
    monkeypatch.setattr(ops, "resolve_target", lambda args: api)
    assert cli.main(["cron", "run", "inventory_topup", "--no-wait"]) == 0
    assert api.calls == [("POST", "/v1/ops/cron/inventory_topup")]
