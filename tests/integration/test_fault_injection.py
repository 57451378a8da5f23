"""Fault injection, the small version of ``python -m bench.faults`` (which runs 1,000 jobs; see docs/RELIABILITY.md).

Jobs go through the real worker handler and the real Anthropic adapter, talking HTTP to the fake Messages API,
while the fake injects every provider fault and the delivery loop injects duplicate deliveries and worker crashes
mid-job. Rates are high here so that each fault happens at least once in a few dozen jobs.
"""

from __future__ import annotations

import pytest

from bench.faults import FaultConfig, FaultReport, run
from pregen_fakes.fake_anthropic import FaultRates

KINDS_OF_FAULT = {"rate_limit_error", "overloaded_error", "timeout", "reset", "max_tokens", "invalid", "refusal"}


@pytest.fixture(scope="module")
def report() -> FaultReport:
    config = FaultConfig(
        jobs=30,
        one_of_each=True,
        seed=11,
        duplicate_rate=0.15,
        crash_rate=0.08,
        faults=FaultRates(
            rate_limited=0.08,
            overloaded=0.06,
            timeout=0.04,
            reset=0.06,
            truncated=0.06,
            invalid=0.08,
            refusal=0.04,
            seed=11,
            retry_after=0.01,
            hang_s=0.6,
        ),
    )
    return run(config)


def test_every_job_ends_as_content_or_as_a_recorded_failure_in_the_dlq(report: FaultReport) -> None:
    # Then nothing is lost: every accepted job is done or failed with its reason
    assert report.lost == []
    assert report.done + report.failed == report.jobs == 30
    # And every failure says why and has its message in the dead-letter queue
    assert report.failed >= 1
    assert report.failed_in_dlq == report.failed
    assert all(reason for reason in report.reasons)


def test_no_key_is_generated_or_stored_twice(report: FaultReport) -> None:
    assert report.generated_twice == []
    assert report.stored_twice == []


def test_every_kind_of_fault_was_injected(report: FaultReport) -> None:
    assert set(report.faults_served) >= KINDS_OF_FAULT
    assert report.duplicates_sent >= 1
    assert report.crashes >= 1
    assert report.joined >= 1
