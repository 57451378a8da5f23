"""Priming (pregen.wiring.priming): what an environment builds in Lambda's init phase, and only there."""

from __future__ import annotations

import logging

import pytest

from pregen.wiring.priming import prime


def test_outside_lambda_nothing_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    # A test or script importing a handler: no AWS_LAMBDA_INITIALIZATION_TYPE
    monkeypatch.delenv("AWS_LAMBDA_INITIALIZATION_TYPE", raising=False)
    built: list[str] = []
    assert prime(lambda: built.append("deps")) is False
    assert built == []


@pytest.mark.parametrize("initialization", ["on-demand", "provisioned-concurrency", "snap-start"])
def test_in_lambdas_init_every_step_runs_in_order(monkeypatch: pytest.MonkeyPatch, initialization: str) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", initialization)
    built: list[str] = []
    assert prime(lambda: built.append("deps"), lambda: built.append("read")) is True
    assert built == ["deps", "read"]


def test_a_failing_step_is_logged_and_left_to_the_first_invocation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given init in Lambda, and a table that does not answer
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    built: list[str] = []

    def unreachable() -> None:
        raise ConnectionError("the table did not answer")

    # When priming, nothing is raised (the environment's init must not die), the steps after it are skipped
    with caplog.at_level(logging.WARNING):
        assert prime(lambda: built.append("deps"), unreachable, lambda: built.append("read")) is False
    assert built == ["deps"]
    assert "priming failed" in caplog.text
