"""A configured key that cannot be read fails closed: every call raises a retryable ``KeyUnavailable`` and counts
``AnthropicKeyUnreadable`` (no model call, no offline content), with one read of SSM per few seconds at most; once
the key reads, Claude takes over. Sections and course plans go the same way."""

from __future__ import annotations

import json

import pytest

from pregen.adapters.generators.claude import AnthropicGenerator
from pregen.adapters.generators.keyed import KeyedGenerator
from pregen.domain.errors import KeyUnavailable
from pregen.domain.models import ContentRequest, Kind
from pregen.domain.pricing import default_prices
from pregen.observability import metrics
from pregen.services.failures import Failure
from pregen.wiring.worker import section_writer

LESSON = ContentRequest.model_validate({"kind": "lesson", "subject": "Math", "topic": "Fractions", "grade": "5"})


class Ssm:
    """A parameter store that fails until ``value`` is set; counts reads."""

    def __init__(self) -> None:
        self.value: str | None = None
        self.reads = 0

    def read(self) -> str:
        self.reads += 1
        if self.value is None:
            raise RuntimeError("ParameterNotFound")
        return self.value


def claude(key: str) -> AnthropicGenerator:
    return AnthropicGenerator(
        api_key=key,
        model_for={Kind.LESSON: "claude-haiku-4-5"}.__getitem__,
        prices=default_prices(),
        max_attempts=1,
        base_url="http://127.0.0.1:9",  # never called
    )


def test_an_unreadable_key_fails_every_call_as_retryable_and_counts_it(capsys: pytest.CaptureFixture[str]) -> None:
    ssm, now = Ssm(), [0.0]
    keyed = KeyedGenerator("/pregen/key", ssm.read, claude, reread_s=5, monotonic=lambda: now[0])
    with pytest.raises(KeyUnavailable) as raised:
        keyed.generate(LESSON)
    failure = Failure.of(raised.value, receive_count=1, max_receive_count=3)
    assert not failure.permanent and not failure.final  # the message comes back
    assert "/pregen/key" in failure.reason and "ParameterNotFound" in failure.reason
    # Within the re-read interval the last failure is given again, without another read
    now[0] = 4.0
    with pytest.raises(KeyUnavailable):
        keyed.generate_section(object())  # type: ignore[arg-type]
    assert ssm.reads == 1
    metrics.flush_metrics()
    assert counted("AnthropicKeyUnreadable", capsys.readouterr().out) == 2


def counted(metric: str, out: str) -> float:
    """The sum of ``metric`` over the EMF records printed (a value, or a list of values)."""
    total = 0.0
    for record in (json.loads(line) for line in out.splitlines() if '"_aws"' in line):
        value = record.get(metric, 0)
        total += sum(value) if isinstance(value, list) else value
    return total


def test_once_the_key_reads_claude_takes_over_and_ssm_is_not_read_again() -> None:
    ssm, now = Ssm(), [0.0]
    keyed = KeyedGenerator("/pregen/key", ssm.read, claude, reread_s=5, monotonic=lambda: now[0])
    with pytest.raises(KeyUnavailable):
        keyed.resolved()
    ssm.value = " sk-test \n"
    now[0] = 6.0
    first = keyed.resolved()
    assert isinstance(first, AnthropicGenerator)
    assert keyed.resolved() is first
    assert ssm.reads == 2


def test_an_empty_parameter_is_unreadable_not_offline() -> None:
    ssm = Ssm()
    ssm.value = "   "
    keyed = KeyedGenerator("/pregen/key", ssm.read, claude, reread_s=0)
    with pytest.raises(KeyUnavailable, match="empty"):
        keyed.resolved()


def test_the_keyed_generator_writes_sections_itself() -> None:
    keyed = KeyedGenerator("/pregen/key", Ssm().read, claude)
    assert section_writer(keyed) is keyed


def test_a_deploy_without_a_key_says_so_at_cold_start(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from pregen.adapters.generators.offline import OfflineGenerator
    from pregen.config.worker import WorkerSettings
    from pregen.wiring.worker import make_generator

    settings = WorkerSettings.model_construct(anthropic_api_key=None, anthropic_api_key_parameter="")
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    assert isinstance(make_generator(settings), OfflineGenerator)
    assert any("NO ANTHROPIC KEY CONFIGURED" in r.getMessage() for r in caplog.records)
