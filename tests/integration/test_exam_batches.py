"""Exam top-ups through Message Batches, against moto and the fake Anthropic server (answering from the output
schema, as a schema-following model does): a top-up's sections go in a batch and the exam ends ready with its
saving counted, an invalid section result falls back to a direct call, a learner's first exam stays direct, two
racing deliveries never submit a section twice, and a result collected for an erased learner is stored nowhere."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

import pytest

from aws_emulator.runtime import LambdaContext
from functions.analytics import app as analytics
from functions.cron import app as cron
from pregen.domain.counters import Metric, name
from pregen.domain.models import Priority
from pregen.domain.programs import plan_sections
from pregen.services.batches import EXAM_SECTION, custom_id_for
from pregen.services.exams import replenish
from pregen.services.usage import day_of
from pregen.wiring import exams as exams_wiring
from pregen.wiring import worker as worker_wiring
from pregen_fakes.fake_anthropic import FakeAnthropic, Reply, running_fake_anthropic
from tests.conftest import load_event
from tests.integration.conftest import (
    api_event,
    call,
    deliver_twice_at_once,
    message_batches_on,
    received_once,
    run_worker,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pregen.domain.inventory import ExamSlot
    from tests.integration.conftest import Aws

# The fake Messages API stamps its batches with the wall clock: the moved-clock reruns cover these tests.
pytestmark = pytest.mark.wall_clock

SECTIONS = 8  # a diagnostic exam's sections


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with running_fake_anthropic(follow="schema") as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic, aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropic]:
    """The worker and the cron function talk to the fake, with Message Batches on for the background lane."""
    yield from message_batches_on(server, monkeypatch)


def top_up(sub: str = "dan", priority: int = Priority.WARMING) -> ExamSlot:
    """One diagnostic exam for the learner, as the cron's top-up makes it (warming priority: the background lane)."""
    deps = exams_wiring.exam_deps()
    deps = dataclasses.replace(deps, policy=deps.policy.model_copy(update={"inventory_target": 1}))
    (slot,) = replenish(sub, "diagnostic", priority, deps, correlation_id="topup-test").created
    return slot


def section_ids(slot: ExamSlot) -> list[str]:
    program = exams_wiring.exam_deps().catalogue.programs[slot.program]
    return [custom_id_for(f"{s.exam_id}-s{s.index:03d}") for s in plan_sections(program, slot.exam_type, slot.exam_id)]


def collect() -> dict[str, Any]:
    result: dict[str, Any] = cron.lambda_handler(
        load_event("cron_collect_batches.json"), LambdaContext(function_name="cron", timeout_s=300)
    )
    return result


def exam_meta(slot: ExamSlot) -> dict[str, Any] | None:
    exam = exams_wiring.exam_deps().inventory.get_exam(slot.exam_id)
    return exam.meta if exam is not None else None


def status_of(slot: ExamSlot) -> str:
    current = exams_wiring.exam_deps().inventory.get_slot(slot.owner, slot.exam_type, slot.exam_id)
    assert current is not None
    return current.status.value


def today() -> dict[str, float]:
    deps = worker_wiring.worker_deps()
    day = day_of(deps.clock.now())
    counts: dict[str, float] = deps.counters.read_days([day])[day]
    return counts


def test_a_top_ups_sections_go_in_a_batch_and_the_exam_ends_ready_with_its_saving_counted(
    aws: Aws, fake: FakeAnthropic
) -> None:
    # Given a top-up's exam, its 8 sections in the background lane
    slot = top_up()
    assert aws.depth("BackgroundQueue") == SECTIONS

    # When the worker takes the lane
    results = run_worker(aws, "BackgroundQueue")

    # Then the sections went out as ONE Message Batch, each with its own section prompt and schema, no direct call
    assert all(r["batchItemFailures"] == [] for r in results)
    assert [r.path for r in fake.requests] == ["/v1/messages/batches"]
    entries = fake.requests[0].body["requests"]
    assert sorted(e["custom_id"] for e in entries) == sorted(section_ids(slot))
    params = entries[0]["params"]
    assert params["messages"][0]["content"].startswith("Write one section of a diagnostic exam")
    assert params["output_config"]["format"]["schema"]["title"] == "ExamSection"
    assert params["system"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert aws.depth("BackgroundQueue") == 0
    assert status_of(slot) == "generating"
    assert today()[name(Metric.BATCH_SUBMITTED, EXAM_SECTION)] == SECTIONS

    # When the schedule collects the batch
    summary = collect()

    # Then every section was stored from it and the exam assembled: ready, saying which sections were batched
    assert (summary["stored"], summary["fell_back"]) == (SECTIONS, 0)
    assert status_of(slot) == "ready"
    meta = exam_meta(slot)
    assert meta is not None
    assert meta["batched_sections"] == list(range(SECTIONS))
    assert meta["questions"] == 71
    assert [r.path for r in fake.requests] == ["/v1/messages/batches"]  # still no direct call
    # ...and the saving is counted as exam_section: each section's billed batch cost again (half the direct price)
    sections = exams_wiring.exam_deps().inventory.read_sections(slot.exam_id)
    billed = sum(figures["cost_usd"] for _, figures in sections)
    assert all(figures["batch"] is True for _, figures in sections)
    assert billed > 0
    counts = today()
    assert counts[name(Metric.BATCH_SUCCEEDED, EXAM_SECTION)] == SECTIONS
    assert counts[name(Metric.BATCH_SAVED_USD, EXAM_SECTION)] == pytest.approx(billed, rel=1e-6)
    saved = counts[name(Metric.BATCH_SAVED_USD, EXAM_SECTION)]
    print(f"{SECTIONS} sections batched: billed ${billed:.6f}, counted saved ${saved:.6f}")
    # ...which analytics reports by kind
    day = dt.datetime.fromtimestamp(worker_wiring.worker_deps().clock.now(), tz=dt.UTC).date().isoformat()
    status, _, figures = call(
        analytics, api_event("analytics.json", sub="ops", role="admin", query={"from": day, "to": day})
    )
    assert status == 200
    assert figures["costs"]["batchSavedUsdByKind"][EXAM_SECTION] == pytest.approx(billed, rel=1e-4)
    # And collecting again finds nothing open
    assert collect()["batches_collected"] == 0


def test_an_invalid_section_result_falls_back_to_a_direct_call_and_the_exam_still_gets_ready(
    aws: Aws, fake: FakeAnthropic
) -> None:
    # Given a top-up's sections in a batch whose first answer misses its section's schema
    slot = top_up()
    fake.script([Reply.json({"domain": "not the section's", "questions": []})])
    run_worker(aws, "BackgroundQueue")
    first = fake.requests[0].body["requests"][0]["custom_id"]

    # When the batch is collected
    summary = collect()

    # Then the 7 valid sections are stored, the invalid one is back in the lane as a direct section
    assert (summary["stored"], summary["fell_back"]) == (SECTIONS - 1, 1)
    assert status_of(slot) == "generating"
    assert aws.depth("BackgroundQueue") == 1
    assert today()[name(Metric.BATCH_FALLBACK, EXAM_SECTION)] == 1

    # When the worker takes it: a direct call (no new batch), and the exam is ready
    run_worker(aws, "BackgroundQueue")
    assert [r.path for r in fake.requests] == ["/v1/messages/batches", "/v1/messages"]
    assert status_of(slot) == "ready"
    meta = exam_meta(slot)
    assert meta is not None
    fell_back = section_ids(slot).index(first)
    assert meta["batched_sections"] == [i for i in range(SECTIONS) if i != fell_back]
    assert today()[name(Metric.BATCH_SUCCEEDED, EXAM_SECTION)] == SECTIONS - 1


def test_a_learners_first_exam_that_they_wait_for_stays_direct(aws: Aws, fake: FakeAnthropic) -> None:
    # Given an exam made at the interactive priority (a warm's first exam, a claim that found nothing)
    slot = top_up(priority=Priority.DEFAULT)
    assert aws.depth("InteractiveQueue") == SECTIONS
    # When the worker takes the interactive lane
    run_worker(aws, "InteractiveQueue")
    # Then every section was a direct call and the exam is ready, nothing batched
    assert [r.path for r in fake.requests] == ["/v1/messages"] * SECTIONS
    assert status_of(slot) == "ready"
    meta = exam_meta(slot)
    assert meta is not None
    assert meta["batched_sections"] == []


def test_two_racing_deliveries_never_submit_a_section_twice(
    aws: Aws, fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a top-up's 8 sections, their messages delivered twice at once (SQS's at-least-once delivery), both
    # deliveries claiming the sections at the same moments
    slot = top_up()
    records = received_once(aws)
    assert len(records) == SECTIONS
    inventory = worker_wiring.batch_deps().exams.inventory  # type: ignore[union-attr]
    results = deliver_twice_at_once(records, inventory, "claim_section_for_batch", monkeypatch)

    # Then the batches hold each section exactly once, no direct call was made, and both deliveries succeeded
    assert {r.path for r in fake.requests} == {"/v1/messages/batches"}
    submitted = [entry["custom_id"] for r in fake.requests for entry in r.body["requests"]]
    assert sorted(submitted) == sorted(section_ids(slot))
    assert [r["batchItemFailures"] for r in results] == [[], []]
    # And once collected the exam is ready, every section from a batch
    assert collect()["stored"] == SECTIONS
    assert status_of(slot) == "ready"
    meta = exam_meta(slot)
    assert meta is not None
    assert meta["batched_sections"] == list(range(SECTIONS))


def test_a_section_result_collected_for_a_learner_erased_meanwhile_is_not_stored(aws: Aws, fake: FakeAnthropic) -> None:
    # Given a top-up's sections in a batch the provider has not finished
    fake.hold_batches = True
    slot = top_up(sub="erin")
    run_worker(aws, "BackgroundQueue")
    assert collect()["batches_open"] == 1
    # When the learner is erased (tombstone first, then their exams) and the batch ends
    deps = worker_wiring.worker_deps()
    now = deps.clock.now()
    assert deps.erasures is not None
    deps.erasures.begin("erin", now, by_admin=False, expires_at=now + 86_400)
    exams_wiring.exam_deps().inventory.erase_learner("erin", ["diagnostic"], now)
    fake.hold_batches = False
    summary = collect()
    # Then nothing of theirs is stored again: no section, no slot, no exam
    assert (summary["erased"], summary["stored"]) == (SECTIONS, 0)
    inventory = exams_wiring.exam_deps().inventory
    assert inventory.read_sections(slot.exam_id) == []
    assert inventory.get_slot("erin", "diagnostic", slot.exam_id) is None
    assert inventory.get_exam(slot.exam_id) is None
