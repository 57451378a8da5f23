"""The exam inventory on moto: claims (atomic, owner-only, never expired), generation in sections, assembly,
the 225-question round trip, and the cron's top-up (idempotent and resumable)."""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from aws_emulator import devjwt
from pregen import wiring
from pregen.adapters.generators.offline import OfflineGenerator
from pregen.domain.clock import FrozenClock
from pregen.domain.errors import GenerationFailed
from pregen.domain.inventory import ExamStatus
from pregen.domain.models import Caller, Generation
from pregen.domain.work_budget import WORKER_TIMEOUT_S
from pregen.services.activity import record_activity
from pregen.services.exams import Claimed, Waiting, claim_exam, exam_price, replenish
from pregen.wiring import exams as exams_wiring
from pregen.wiring import worker as worker_wiring
from pregen_tools import tokens
from tests.conftest import load_event
from tests.integration.conftest import api_event, call, run_worker

if TYPE_CHECKING:
    from pregen.domain.programs import SectionSpec
    from pregen.services.exams import ExamDeps
    from tests.integration.conftest import Aws


def with_target(deps: ExamDeps, target: int) -> ExamDeps:
    """The same inventory with another number of exams kept ready per learner and type."""
    return dataclasses.replace(deps, policy=deps.policy.model_copy(update={"inventory_target": target}))


@pytest.fixture
def exams() -> Any:
    from functions.exams import app

    return app


def _claim(exams: Any, exam_type: str = "diagnostic", sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    return call(
        exams,
        api_event(
            "exams_claim.json",
            sub=sub,
            path=f"/v1/exams/{exam_type}/claim",
            path_parameters={"exam": exam_type},
        ),
    )


def _inventory(exams: Any, exam_type: str = "diagnostic", sub: str = "alice") -> Any:
    status, _, body = call(
        exams,
        api_event(
            "exams_inventory.json",
            sub=sub,
            path=f"/v1/exams/{exam_type}/inventory",
            path_parameters={"exam": exam_type},
        ),
    )
    assert status == 200, body
    return body


def _get(exams: Any, exam_id: str, sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    return call(
        exams, api_event("exams_get.json", sub=sub, path=f"/v1/exams/{exam_id}", path_parameters={"exam": exam_id})
    )


def _drain(aws: Aws) -> None:
    run_worker(aws, "InteractiveQueue", max_batches=500)
    run_worker(aws, "BackgroundQueue", max_batches=500)


def test_first_claim_is_202_then_a_complete_exam_and_the_inventory_refills(aws: Aws, exams: Any) -> None:
    # Given a learner with no inventory, the first claim answers 202 with the exam being generated
    status, headers, body = _claim(exams)
    assert status == 202, body
    assert headers["retry-after"] == "10"
    assert headers["location"] == "/v1/exams/diagnostic/inventory"
    assert body["job"]["status"] == "generating"
    assert body["job"]["sections_total"] == 8
    # (at high priority: the sections went to the interactive lane; the target's other exam too)
    assert aws.depth("InteractiveQueue") == 16
    assert _inventory(exams)["generating"] == 2
    # When the worker generates every section
    _drain(aws)
    # Then both exams are ready, and a claim hands out a complete 71-question exam
    assert _inventory(exams)["ready"] == 2
    status, headers, body = _claim(exams)
    assert status == 200, body
    questions = [q for s in body["exam"]["sections"] for q in s["questions"]]
    assert len(questions) == 71
    assert body["status"] == "claimed"
    assert headers["location"] == f"/v1/exams/{body['exam_id']}"
    # And the claim replenished the inventory back to the target
    view = _inventory(exams)
    assert (view["ready"], view["generating"], view["claimed"]) == (1, 1, 1)
    _drain(aws)
    assert _inventory(exams)["ready"] == 2
    # And the owner can read the claimed exam again
    status, _, again = _get(exams, body["exam_id"])
    assert status == 200
    assert again["exam"] == body["exam"]


def test_another_learners_exam_is_never_returned(aws: Aws, exams: Any) -> None:
    # Given alice has ready exams and claims one
    _claim(exams, sub="alice")
    _drain(aws)
    status, _, alices = _claim(exams, sub="alice")
    assert status == 200
    # When bob claims, he does not get one of alice's: his own inventory is empty
    status, _, bobs = _claim(exams, sub="bob")
    assert status == 202
    assert bobs["job"]["exam_id"] != alices["exam_id"]
    # And bob cannot read alice's exam (404, the same as an exam that does not exist)
    status, _, error = _get(exams, alices["exam_id"], sub="bob")
    assert status == 404
    assert error["error"]["code"] == "not_found"
    # And nobody can read an exam that is ready but not claimed, not even its owner
    ready = [e for e in _inventory(exams, sub="alice")["exams"] if e["status"] == "ready"]
    assert ready
    assert _get(exams, ready[0]["exam_id"], sub="alice")[0] == 404


def test_fifty_concurrent_claims_against_ten_ready_exams(
    aws: Aws, monkeypatch: pytest.MonkeyPatch, atomic_requests: None
) -> None:
    # Given a learner with 10 ready exams
    monkeypatch.setenv("INVENTORY_TARGET", "10")
    wiring.reset()
    deps = exams_wiring.exam_deps()
    caller = Caller(sub="carol")
    assert len(replenish("carol", "diagnostic", 80, deps).created) == 10
    _drain(aws)
    assert len([s for s in deps.inventory.list_slots("carol", "diagnostic")[1] if s.status is ExamStatus.READY]) == 10
    # When 50 claims race (with a target of 0 now, so the race is about the claims, not the top-ups behind them,
    # and no rate limit: 40 of them find nothing ready, which is not what this test is about)
    deps = dataclasses.replace(with_target(deps, 0), limiter=None)
    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(lambda _: claim_exam(caller, "diagnostic", deps), range(50)))
    # Then exactly 10 claims got an exam, all distinct; the other 40 were told to wait
    claimed = [o.exam.exam_id for o in outcomes if isinstance(o, Claimed)]
    assert len(claimed) == 10
    assert len(set(claimed)) == 10
    assert sum(isinstance(o, Waiting) for o in outcomes) == 40
    # And every claimed exam is claimed exactly once in the store
    slots = deps.inventory.list_slots("carol", "diagnostic")[1]
    assert sorted(s.exam_id for s in slots if s.status is ExamStatus.CLAIMED) == sorted(claimed)


def test_an_expired_but_undeleted_exam_is_never_claimed_or_served(aws: Aws, exams: Any) -> None:
    # Given two ready exams and one claimed exam
    _claim(exams)
    _drain(aws)
    status, _, claimed = _claim(exams)
    assert status == 200
    _drain(aws)
    deps = exams_wiring.exam_deps()
    # When 8 days pass and TTL has not deleted anything yet (the items are all still there)
    later = dataclasses.replace(deps, clock=FrozenClock(time.time() + 8 * 86_400))
    slots = later.inventory.list_slots("alice", "diagnostic")[1]
    assert sum(s.status is ExamStatus.READY for s in slots) == 2
    # Then a claim does not hand out the expired ready exams: it starts a new one
    outcome = claim_exam(Caller(sub="alice"), "diagnostic", later)
    assert isinstance(outcome, Waiting)
    assert outcome.slot is not None
    assert outcome.slot.exam_id not in {s.exam_id for s in slots}
    # And the claimed exam (expired a day after the claim) is no longer served
    from pregen.domain.errors import NotFound
    from pregen.services.exams import claimed_exam

    with pytest.raises(NotFound):
        claimed_exam(claimed["exam_id"], Caller(sub="alice"), later)
    # And the store refuses the claim itself even if asked directly for an expired slot
    expired = next(s for s in slots if s.status is ExamStatus.READY)
    assert not later.inventory.claim(expired, later.clock.now(), later.clock.now() + 86_400, {})


def test_a_225_question_exam_round_trips_through_the_store(aws: Aws, exams: Any) -> None:
    # Given a practice exam generated in sections and assembled
    assert _claim(exams, "practice")[0] == 202
    _drain(aws)
    # When it is claimed
    status, _, body = _claim(exams, "practice")
    assert status == 200, body
    # Then all 225 questions come back, distinct and weighted per the blueprint
    questions = [q for s in body["exam"]["sections"] for q in s["questions"]]
    assert len(questions) == 225
    assert len({q["prompt"] for q in questions}) == 225
    assert body["meta"] == {"program": "eppp", "exam_type": "practice", "sections": 11, "questions": 225}
    # And the stored item is compressed (offline questions are short; see the unit test for a realistic size)
    item = aws.dynamodb.get_item(
        TableName=aws.env["EXAMS_TABLE"], Key={"pk": {"S": f"exam#{body['exam_id']}"}, "sk": {"S": "exam"}}
    )["Item"]
    assert len(item["body"]["B"]) < 400_000


class FlakySections(OfflineGenerator):
    """Fails the first attempt at one section; counts the calls per section."""

    def __init__(self, fail_index: int, failures: int = 1) -> None:
        super().__init__()
        self.fail_index, self.failures = fail_index, failures
        self.calls: dict[int, int] = {}

    def generate_section(self, spec: SectionSpec) -> Generation:
        self.calls[spec.index] = self.calls.get(spec.index, 0) + 1
        if spec.index == self.fail_index and self.calls[spec.index] <= self.failures:
            raise GenerationFailed("provider unavailable: RateLimitError", retryable=True)
        return super().generate_section(spec)


def test_a_failed_section_is_retried_alone(aws: Aws, exams: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a generator that fails section 3 once
    monkeypatch.setenv("INVENTORY_TARGET", "1")
    wiring.reset()
    flaky = FlakySections(fail_index=3)
    worker_wiring.exam_worker_deps().generator = flaky
    # When the first claim's exam is generated
    assert _claim(exams)[0] == 202
    _drain(aws)
    # Then section 3 was generated twice, every other section once, and the exam is ready
    assert flaky.calls[3] == 2
    assert all(n == 1 for i, n in flaky.calls.items() if i != 3)
    assert _inventory(exams)["ready"] == 1


def test_a_failed_section_comes_back_after_its_backoff_not_the_visibility_timeout(
    aws: Aws, exams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker
    from pregen.wiring.lifecycle import lifecycle

    # Given a generator that fails section 3 once, and the worker's ChangeMessageVisibility calls recorded
    monkeypatch.setenv("INVENTORY_TARGET", "1")
    wiring.reset()
    worker_wiring.exam_worker_deps().generator = FlakySections(fail_index=3)
    backoffs: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(
        lifecycle().queue, "retry_in", lambda lane, handle, seconds: backoffs.append((lane, handle, seconds))
    )
    assert _claim(exams)[0] == 202
    # When the worker receives the exam's sections once
    failed: list[str] = []
    for queue in ("InteractiveQueue", "BackgroundQueue"):
        url, arn = aws.queue_url(queue), aws.resources.queue_arns[queue]
        while messages := aws.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", []):
            records = [to_lambda_record(m, arn) for m in messages]
            result = worker.lambda_handler(
                {"Records": records}, LambdaContext(function_name="worker", timeout_s=WORKER_TIMEOUT_S)
            )
            ids = {f["itemIdentifier"] for f in result["batchItemFailures"]}
            failed += [m["ReceiptHandle"] for m in messages if m["MessageId"] in ids]
    # Then section 3's delivery failed and was set to come back after the first backoff (10 s ± 20 %), on its own
    # receipt handle: not after the lane's whole visibility timeout; the exam is still generating meanwhile
    ((_, handle, seconds),) = backoffs
    assert failed == [handle]
    assert 8 <= seconds <= 12
    assert _inventory(exams)["generating"] == 1


def test_a_section_that_keeps_failing_fails_its_exam_and_the_next_claim_replaces_it(
    aws: Aws, exams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a generator that fails section 0 on every delivery
    monkeypatch.setenv("INVENTORY_TARGET", "1")
    wiring.reset()
    worker_wiring.exam_worker_deps().generator = FlakySections(fail_index=0, failures=99)
    assert _claim(exams)[0] == 202
    # When the worker has tried it maxReceiveCount times
    _drain(aws)
    # Then the exam is failed (with its reason), not counted as generating, and a new claim starts another
    view = _inventory(exams)
    assert (view["ready"], view["generating"], view["failed"]) == (0, 0, 1)
    assert "section 0" in view["exams"][0]["reason"]
    status, _, body = _claim(exams)
    assert status == 202
    assert body["job"]["exam_id"] != view["exams"][0]["exam_id"]


def test_a_redelivered_section_is_stored_and_counted_once_and_a_late_one_for_a_failed_exam_is_dropped(
    aws: Aws,
) -> None:
    from pregen.domain.programs import plan_sections
    from pregen.messages import SectionMessage
    from pregen.services.exam_generation import generate_exam_section

    # Given one generating exam and the message of its first section
    deps = exams_wiring.exam_deps()
    (slot,) = replenish(
        "gus",
        "diagnostic",
        30,
        with_target(deps, 1),
    ).created
    spec = plan_sections(deps.catalogue.programs[slot.program], "diagnostic", slot.exam_id)[0]
    message = SectionMessage(type="exam_section", owner="gus", spec=spec)
    worker = worker_wiring.exam_worker_deps()
    # When it is delivered twice
    first = generate_exam_section(message, receive_count=1, worker_id="w1", deps=worker)
    second = generate_exam_section(message, receive_count=2, worker_id="w2", deps=worker)
    # Then it was stored and counted once
    assert (first, second) == ("section_stored", "section_duplicate")
    current = deps.inventory.get_slot("gus", "diagnostic", slot.exam_id)
    assert current is not None
    assert current.sections_done == 1
    # And once the exam has failed, a late section is acknowledged without being stored
    now = time.time()
    assert deps.inventory.fail_slot("gus", "diagnostic", slot.exam_id, reason="test", now=now, expires_at=now + 60)
    spec2 = plan_sections(deps.catalogue.programs[slot.program], "diagnostic", slot.exam_id)[1]
    late = SectionMessage(type="exam_section", owner="gus", spec=spec2)
    assert generate_exam_section(late, receive_count=1, worker_id="w3", deps=worker) == "exam_gone"
    assert not deps.inventory.has_section(slot.exam_id, 1)
    # And even a worker that read the slot before it failed cannot store (nor count) a section for it
    from pregen.domain.inventory import SlotGone

    with pytest.raises(SlotGone):
        deps.inventory.put_section(slot, 1, OfflineGenerator().generate_section(spec2).body, {})


def test_unknown_and_malformed_exam_types_are_4xx(aws: Aws, exams: Any) -> None:
    status, _, body = _claim(exams, "final")
    assert status == 404
    assert "known: diagnostic, practice" in body["error"]["message"]
    status, _, body = _claim(exams, "Bad Type!")
    assert status == 400
    assert _get(exams, "no/such")[0] in {400, 404}


def test_sample_section_event_is_processed_by_the_worker(aws: Aws) -> None:
    # Given the sample event names an exam that does not exist, the worker acknowledges it as gone
    from aws_emulator.runtime import LambdaContext
    from functions.worker import app as worker

    result = worker.lambda_handler(
        load_event("worker_exam_section.json"), LambdaContext(function_name="w", timeout_s=WORKER_TIMEOUT_S)
    )
    assert result["batchItemFailures"] == []


# -- the cron's top-up ---------------------------------------------------------------------------------------------


def _cron(event: dict[str, Any]) -> dict[str, Any]:
    from aws_emulator.runtime import LambdaContext
    from functions.cron import app as cron

    summary: dict[str, Any] = cron.lambda_handler(event, LambdaContext(function_name="cron", timeout_s=300))
    return summary


def test_cron_tops_up_active_learners_and_a_second_run_enqueues_nothing(aws: Aws) -> None:
    # Given three learners active in the window (one of them on two days, one using two exam types)
    deps = exams_wiring.exam_deps()
    now = time.time()
    record_activity(deps.activity, "dan", now, ["diagnostic"])
    record_activity(deps.activity, "dan", now - 86_400, ["diagnostic"])
    record_activity(deps.activity, "erin", now - 3 * 86_400, ["diagnostic", "practice"])
    record_activity(deps.activity, "old", now - 30 * 86_400, ["diagnostic"])  # outside the 14-day window
    # When the schedule fires
    first = _cron(load_event("cron_inventory_topup.json"))
    # Then each active learner's inventories were filled to the target (2 each) in the background lane
    assert first["complete"] is True
    assert first["learners_seen"] == 2
    assert first["exams_enqueued"] == 6
    assert first["failed"] == 0
    depth = aws.depth("BackgroundQueue")
    assert depth == 2 * 8 + 2 * 8 + 2 * 11  # diagnostic: 8 sections, practice: 11
    # And a second run in a row enqueues nothing
    second = _cron(load_event("cron_inventory_topup.json"))
    assert second["exams_enqueued"] == 0
    assert second["skipped"] == 3
    assert aws.depth("BackgroundQueue") == depth


def test_the_counts_a_learners_changes_leave_in_their_record_are_folded_once_by_the_cron_or_a_minute_later(
    aws: Aws, exams: Any
) -> None:
    from pregen.domain.exam_stats import EXAMS_CLAIMED, EXAMS_GENERATED

    # Given a learner whose exams were generated, and one claimed
    assert _claim(exams, sub="gail")[0] == 202
    _drain(aws)
    assert _claim(exams, sub="gail")[0] == 200
    deps = exams_wiring.exam_deps()
    # Then the global gauges do not count them yet: the learner's record holds the counts
    assert deps.counters.read_gauges().get(EXAMS_CLAIMED, 0) == 0
    # When the cron's top-up runs, twice
    assert _cron({"task": "inventory_topup"})["failed"] == 0
    assert _cron({"task": "inventory_topup"})["failed"] == 0
    # Then each exam is counted once
    gauges = deps.counters.read_gauges()
    assert (gauges[EXAMS_GENERATED], gauges[EXAMS_CLAIMED]) == (deps.inventory.learner_exams("gail").generated, 1)
    # And when the learner claims again, then once more over a minute later, that last claim folds both itself
    _drain(aws)
    assert _claim(exams, sub="gail")[0] == 200
    assert deps.counters.read_gauges()[EXAMS_CLAIMED] == 1
    later = dataclasses.replace(deps, clock=FrozenClock(time.time() + 61))
    assert isinstance(claim_exam(Caller(sub="gail"), "diagnostic", later), Claimed)
    gauges = deps.counters.read_gauges()
    assert (gauges[EXAMS_GENERATED], gauges[EXAMS_CLAIMED]) == (deps.inventory.learner_exams("gail").generated, 3)


def test_cron_run_cut_short_resumes_where_it_stopped(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a time budget so small that each invocation does one page of one learner
    monkeypatch.setenv("TOPUP_BUDGET_SECONDS", "0")
    monkeypatch.setenv("TOPUP_PAGE_SIZE", "1")
    monkeypatch.setenv("ACTIVITY_DAYS", "1")
    wiring.reset()
    deps = exams_wiring.exam_deps()
    for sub in ("f1", "f2", "f3"):
        record_activity(deps.activity, sub, time.time(), ["diagnostic"])
    # When the schedule fires, the run stops early, having recorded where it was
    first = _cron({"task": "inventory_topup"})
    assert first["complete"] is False
    assert first["exams_enqueued"] == 2
    # Then the resume schedule continues it until it is complete, and each learner was topped up once
    summaries = [first]
    for _ in range(20):
        summaries.append(_cron({"task": "inventory_topup_resume"}))
        if summaries[-1].get("complete"):
            break
    assert summaries[-1]["complete"] is True
    assert summaries[-1]["exams_enqueued"] == 6
    assert summaries[-1]["run_id"] == first["run_id"]
    # And once complete, the resume schedule has nothing to do
    assert _cron({"task": "inventory_topup_resume"})["resumed"] is False


def test_ops_trigger_runs_the_top_up_for_admins_only(aws: Aws) -> None:
    from functions.cron import app as cron

    event = api_event(
        "cron_http.json",
        role="student",
        path="/v1/ops/cron/inventory_topup",
        path_parameters={"task": "inventory_topup"},
    )
    assert call(cron, event)[0] == 403
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[admin]"
    status, _, accepted = call(cron, event)
    assert status == 202
    assert accepted["task"] == "inventory_topup"
    summary = _run_operator_task(aws, accepted["run_id"])
    assert summary["task"] == "inventory_topup"


def _run_operator_task(aws: Aws, run_id: str) -> dict[str, Any]:
    """The operator tasks queue's one message to the cron function; the run's summary once it is done."""
    from aws_emulator.poller import to_lambda_record
    from aws_emulator.runtime import LambdaContext
    from functions.cron import app as cron
    from pregen.domain.cron_runs import RunStatus
    from pregen.wiring.cron import run_deps

    (message,) = aws.sqs.receive_message(QueueUrl=aws.queue_url("OperatorQueue"), MessageSystemAttributeNames=["All"])[
        "Messages"
    ]
    record = to_lambda_record(message, aws.resources.queue_arns["OperatorQueue"])
    cron.lambda_handler({"Records": [record]}, LambdaContext(function_name="cron", timeout_s=300))
    run = run_deps().runs.get(run_id)
    assert run is not None and run.status is RunStatus.DONE, run
    assert run.result is not None
    return run.result


def _cron_run(authorization: str | None) -> tuple[int, dict[str, str], Any]:
    from functions.cron import app as cron

    event = api_event("cron_run.json")
    event["requestContext"].pop("authorizer", None)  # the route has no authorizer: the function checks the caller
    event["headers"] = {k: v for k, v in event["headers"].items() if k != "authorization"}
    if authorization is not None:
        event["headers"]["authorization"] = authorization
    return call(cron, event)


@pytest.fixture
def issuer_keys(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A JWT issuer of the test's own: tokens signed with a fresh key, and the JWKS lookup answering with it."""
    from aws_emulator import devjwt
    from pregen import wiring
    from pregen.http import trigger_auth

    key_file = tmp_path / "issuer.pem"
    monkeypatch.setenv("JWT_ISSUER", devjwt.ISSUER)
    monkeypatch.setenv("JWT_AUDIENCE", devjwt.AUDIENCE)
    monkeypatch.setenv("CRON_SECRET", "s3cret-for-tests")
    monkeypatch.setenv("CRON_SECRET_PARAMETER", "")
    wiring.reset()

    class Keys:
        def get_signing_key_from_jwt(self, token: str) -> Any:
            return type("Key", (), {"key": devjwt.signing_key(key_file).public_key()})()

    monkeypatch.setattr(trigger_auth, "_jwks_client", lambda url: Keys())

    def mint(sub: str, role: str, **kwargs: Any) -> str:
        return tokens.mint(sub, role, key_file=key_file, **kwargs)

    yield mint
    wiring.reset()


def test_cron_run_takes_an_admin_jwt_or_the_cron_secret(aws: Aws, issuer_keys: Any) -> None:
    # An admin's JWT, or the cron secret, starts the top-up; its summary comes back on the run
    status, _, accepted = _cron_run(f"Bearer {issuer_keys('ops', 'admin')}")
    assert status == 202
    assert accepted["requested_by"] == "ops"
    # The secret's start, while that run has not ended, joins it
    status, _, joined = _cron_run("Bearer s3cret-for-tests")
    assert (status, joined["run_id"], joined["joined"]) == (202, accepted["run_id"], True)
    summary = _run_operator_task(aws, accepted["run_id"])
    assert {"learners_seen", "exams_enqueued", "skipped", "failed"} <= set(summary)
    # A learner's valid token is forbidden; anything else is unauthorized
    assert _cron_run(f"Bearer {issuer_keys('lena', 'student')}")[0] == 403
    assert _cron_run("Bearer s3cret-for-test")[0] == 401
    assert _cron_run(f"Bearer {issuer_keys('ops', 'admin', ttl_seconds=-60)}")[0] == 401
    assert _cron_run("Basic b3BzOnMzY3JldA==")[0] == 401
    status, _, body = _cron_run(None)
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_cron_run_takes_cognito_admins_by_group_and_by_access_token(aws: Aws, issuer_keys: Any) -> None:
    # A Cognito ID token: the admin role is a group, a list claim once decoded (not the string "['admin']")
    groups = {"cognito:groups": ["teachers", "admin"]}
    assert _cron_run(f"Bearer {issuer_keys('ops', 'student', extra=groups)}")[0] == 202
    # A Cognito access token: no aud, the client in client_id, as the HTTP API's JWT authorizer accepts it
    access = {"aud": None, "token_use": "access", "client_id": devjwt.AUDIENCE, "cognito:groups": ["admin"]}
    assert _cron_run(f"Bearer {issuer_keys('ops', 'student', extra=access)}")[0] == 202
    # ...but only for this client, and an ID token must name it in aud
    other_client = {**access, "client_id": "someone-else"}
    assert _cron_run(f"Bearer {issuer_keys('ops', 'student', extra=other_client)}")[0] == 401
    assert _cron_run(f"Bearer {issuer_keys('ops', 'admin', extra={'aud': 'someone-else'})}")[0] == 401
    assert _cron_run(f"Bearer {issuer_keys('ops', 'admin', extra={'aud': ['x', devjwt.AUDIENCE]})}")[0] == 202


def test_a_claim_costs_a_handful_of_small_requests(aws: Aws, exams: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import collections

    from botocore.client import BaseClient

    # Given a learner with a full inventory
    _claim(exams)
    _drain(aws)
    calls: collections.Counter[str] = collections.Counter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    # When they claim an exam
    assert _claim(exams)[0] == 200
    # Then: activity (1 UpdateItem), their partition (1 Query), the claim (1 transaction), the exam (1 GetItem),
    # and the top-up behind it (1 Query, its charge to the claimer (a 2nd UpdateItem), 1 transaction, one message
    # per section): no scan, nothing per exam stored; plus the learner's exam record (a 2nd GetItem): its change is
    # in the claim's transaction, with the analytics counts it adds to the record's pending sum (folded into their
    # shards later, by the cron or by a change that finds them a minute old: not by this claim)
    assert calls == {"UpdateItem": 2, "Query": 2, "TransactWriteItems": 2, "GetItem": 2, "SendMessage": 8}


def test_the_top_up_schedules_come_from_the_template(aws: Aws) -> None:
    # The 6-hourly top-up is built from a parameter; the local stack resolves it like CloudFormation would
    schedules = {s.name: s for s in aws.template.schedules()}
    assert schedules["InventoryTopUp"].expression == "rate(6 hours)"
    assert schedules["InventoryTopUp"].input == {"task": "inventory_topup"}
    assert schedules["InventoryTopUpResume"].input == {"task": "inventory_topup_resume"}


def test_a_crashed_assembler_is_taken_over_once_its_lease_runs_out(aws: Aws) -> None:
    from pregen.domain.programs import plan_sections
    from pregen.messages import SectionMessage
    from pregen.services.exam_generation import AssemblyPending, generate_exam_section

    # Given an exam whose sections are all stored, and an assembler that took the lease and crashed
    deps = exams_wiring.exam_deps()
    (slot,) = replenish(
        "hal",
        "diagnostic",
        30,
        with_target(deps, 1),
    ).created
    specs = plan_sections(deps.catalogue.programs[slot.program], "diagnostic", slot.exam_id)
    for spec in specs:
        assert deps.inventory.put_section(slot, spec.index, OfflineGenerator().generate_section(spec).body, {})
    complete = deps.inventory.get_slot("hal", "diagnostic", slot.exam_id)
    assert complete is not None
    assert deps.inventory.lease_assembly(complete, "crashed", time.time(), 120)
    message = SectionMessage(type="exam_section", owner="hal", spec=specs[-1])
    # When the last section's message is delivered again while the lease is live, it is not acknowledged
    worker = worker_wiring.exam_worker_deps()
    with pytest.raises(AssemblyPending):
        generate_exam_section(message, receive_count=2, worker_id="w2", deps=worker)
    # Then the delivery after the lease ran out assembles the exam
    later = dataclasses.replace(worker, clock=FrozenClock(time.time() + 300))
    assert generate_exam_section(message, receive_count=3, worker_id="w3", deps=later) == "exam_assembled"
    ready = deps.inventory.get_slot("hal", "diagnostic", slot.exam_id)
    assert ready is not None
    assert ready.status is ExamStatus.READY


def test_a_claim_retries_a_transaction_conflict_instead_of_skipping_the_exam(
    aws: Aws, exams: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    # Given one ready exam (target 1)
    monkeypatch.setenv("INVENTORY_TARGET", "1")
    wiring.reset()
    _claim(exams)
    _drain(aws)
    deps = exams_wiring.exam_deps()
    inventory: Any = deps.inventory
    original = inventory.client.transact_write_items
    conflicts = {"left": 1}

    def conflicting(**request: Any) -> Any:
        # real DynamoDB cancels a transaction that races another on the same item with TransactionConflict
        if conflicts["left"] and "Update" in request["TransactItems"][0]:
            conflicts["left"] -= 1
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )
        return original(**request)

    monkeypatch.setattr(inventory.client, "transact_write_items", conflicting)
    # When the claim's first transaction hits a conflict
    outcome = claim_exam(Caller(sub="alice"), "diagnostic", deps)
    # Then it tried again and got the exam
    assert conflicts["left"] == 0
    assert isinstance(outcome, Claimed)


def _warm(exams: Any, body: Any = None, sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    return call(exams, api_event("exams_warm.json", sub=sub, body=body))


def test_warming_starts_every_exam_type_once_and_the_first_claim_is_ready(aws: Aws, exams: Any) -> None:
    # Given a new learner whose app calls the warm on the dashboard, naming no exam type
    status, _, body = _warm(exams, body={})
    assert status == 202, body
    # Then every exam type of the catalogue starts, each to its target (2)
    assert {t["exam_type"]: (t["enqueued"], t["generating"], t["ready"]) for t in body["exam_types"]} == {
        "diagnostic": (2, 2, 0),
        "practice": (2, 2, 0),
    }
    assert body["exam_types"][0]["inventory"] == "/v1/exams/diagnostic/inventory"
    # And the first exam of each type goes to the interactive lane (8 + 11 sections), the rest to the background
    assert aws.depth("InteractiveQueue") == 8 + 11
    assert aws.depth("BackgroundQueue") == 8 + 11
    # When the page loads again: nothing more is enqueued
    status, _, again = _warm(exams, body={"exam_types": ["diagnostic"]})
    assert status == 202, again
    assert again["exam_types"] == [
        {
            "exam_type": "diagnostic",
            "ready": 0,
            "generating": 2,
            "enqueued": 0,
            "inventory": "/v1/exams/diagnostic/inventory",
        }
    ]
    assert aws.depth("InteractiveQueue") == 8 + 11
    # When only the interactive lane is worked (the learner arrives before the background catches up)
    run_worker(aws, "InteractiveQueue", max_batches=500)
    # Then the learner's first claim of each type hands out an exam at once
    for exam_type, questions in (("diagnostic", 71), ("practice", 225)):
        status, _, exam = _claim(exams, exam_type)
        assert status == 200, exam
        assert sum(len(s["questions"]) for s in exam["exam"]["sections"]) == questions
    # And another learner's inventory was not touched
    assert _inventory(exams, sub="bob")["generating"] == 0


def test_warming_is_charged_once_and_only_when_it_starts_something(aws: Aws, exams: Any) -> None:
    from pregen.domain.limits import RateLimits
    from pregen.services.limits import GenerationLimiter

    # Given students allowed a minute's spend of the first warm's exams, one more of each type, and half a set more,
    # on a clock 10 s into a minute
    deps = exams_wiring.exam_deps()
    assert deps.limiter is not None
    price = deps.limiter.estimator
    one_of_each = sum(exam_price(deps.catalogue.program_for(t), t, price) for t in ("diagnostic", "practice"))
    target = deps.policy.inventory_target
    minute = ((target + 1) * one_of_each + one_of_each // 2) / 1e6
    deps.limiter = GenerationLimiter(
        counter=deps.limiter.counter,
        limits=RateLimits.model_validate({"student": {"minute": minute}}),
        estimator=deps.limiter.estimator,
    )
    now = time.time()
    deps.clock = FrozenClock(at=now - now % 60 + 10)
    queued = lambda: aws.depth("InteractiveQueue") + aws.depth("BackgroundQueue")  # noqa: E731
    # When a learner warms both exam types (one charge for both), then warms again (nothing to start: free)
    status, headers, _ = _warm(exams)
    assert status == 202
    assert int(headers["ratelimit-remaining"]) == round(minute * 1e6) - target * one_of_each
    assert _warm(exams)[0] == 202
    # And the target rises, so a third warm starts more: the second charge, still allowed
    deps.policy = deps.policy.model_copy(update={"inventory_target": target + 1})
    status, _, body = _warm(exams)
    assert status == 202, body
    assert [t["enqueued"] for t in body["exam_types"]] == [1, 1]
    # Then a fourth that would start more is over what is left: 429 with Retry-After, and nothing enqueued
    deps.policy = deps.policy.model_copy(update={"inventory_target": target + 2})
    before = queued()
    status, headers, body = _warm(exams)
    assert status == 429, body
    assert headers["retry-after"] == "50"
    assert queued() == before
    # And another learner's allowance is their own (their first warm at this target fits a whole minute)
    deps.policy = deps.policy.model_copy(update={"inventory_target": target + 1})
    assert _warm(exams, sub="carol")[0] == 202
    # And a warm costing more than a whole minute allows is a 422 (no wait would help), nothing enqueued
    deps.policy = deps.policy.model_copy(update={"inventory_target": target + 10})
    before = queued()
    status, _, body = _warm(exams, sub="dave")
    assert (status, body["error"]["code"]) == (422, "over_allowance")
    assert queued() == before


def test_warming_bad_input_is_4xx(aws: Aws, exams: Any) -> None:
    status, _, body = _warm(exams, body={"exam_types": ["final"]})
    assert status == 404
    assert "known: diagnostic, practice" in body["error"]["message"]
    for bad in ({"exam_types": []}, {"exam_types": ["Bad Type!"]}, {"exam_type": "diagnostic"}, {"exam_types": "x"}):
        status, _, body = _warm(exams, body=bad)
        assert status == 400, (bad, body)
    assert aws.depth("InteractiveQueue") + aws.depth("BackgroundQueue") == 0


def _claim_as(exams: Any, sub: str, role: str) -> Any:
    event = api_event("exams_claim.json", sub=sub, role=role, path="/v1/exams/diagnostic/claim")
    status, _, body = call(exams, {**event, "pathParameters": {"exam": "diagnostic"}})
    assert status == 200, body
    return body


def _answer(exams: Any, exam_id: str, body: Any, sub: str = "alice") -> tuple[int, dict[str, str], Any]:
    path = f"/v1/exams/{exam_id}/answers"
    return call(
        exams, api_event("exams_answers.json", sub=sub, body=body, path=path, path_parameters={"exam": exam_id})
    )


def _attempt(exams: Any, exam_id: str, sub: str = "alice") -> tuple[int, Any]:
    path = f"/v1/exams/{exam_id}/attempt"
    status, _, body = call(
        exams, api_event("exams_attempt.json", sub=sub, path=path, path_parameters={"exam": exam_id})
    )
    return status, body


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_a_student_reads_an_exam_without_answers_and_a_teacher_with_them(aws: Aws, exams: Any) -> None:
    # Given a student and a teacher, each with ready exams
    for sub in ("alice", "tina"):
        _claim(exams, sub=sub)
    _drain(aws)
    # When the student claims one and reads it again, neither answer carries an answer, explanation or figure
    claimed = _claim_as(exams, "alice", "student")
    status, _, again = _get(exams, claimed["exam_id"])
    assert status == 200
    for body in (claimed, again):
        assert body["view"] == "student"
        assert not _keys(body["exam"]) & {"answer_index", "explanation", "answer", "sample_answer", "keywords"}
        assert set(body["meta"]) <= {"program", "exam_type", "sections", "questions"}
        assert all(q["options"] for s in body["exam"]["sections"] for q in s["questions"])
    assert sum(len(s["questions"]) for s in claimed["exam"]["sections"]) == 71
    # But the teacher's claimed exam has them all
    taught = _claim_as(exams, "tina", "teacher")
    assert taught["view"] == "full"
    assert all("answer_index" in q and q["explanation"] for s in taught["exam"]["sections"] for q in s["questions"])


def test_answers_are_graded_once_kept_and_bad_ones_refused(aws: Aws, exams: Any) -> None:
    # Given alice's claimed 71-question exam, and the right answers as the store has them
    _claim(exams)
    _drain(aws)
    exam_id = _claim_as(exams, "alice", "student")["exam_id"]
    stored = exams_wiring.exam_deps().inventory.get_exam(exam_id)
    assert stored is not None
    questions = [q for s in stored.body["sections"] for q in s["questions"]]
    right = [q["answer_index"] for q in questions]
    wrong_first = [(right[0] + 1) % len(questions[0]["options"]), *right[1:]]
    # When she sends answers that do not fit: a 400 naming the problem, and nothing kept
    refusals = {
        "count": {"answers": right[:-1]},
        "range": {"answers": [len(questions[0]["options"]), *right[1:]]},
        "shape": {"answers": ["B", *right[1:]]},
        "unknown field": {"answers": right, "score": 100},
        "no answers": {"answers": []},
        "not an object": [1, 2],
    }
    for why, body in refusals.items():
        status, _, error = _answer(exams, exam_id, body)
        assert status == 400, (why, error)
    assert _answer(exams, exam_id, {"answers": right[:-1]})[2]["error"]["message"].startswith(
        "answers: the exam has 71 questions, 70 answers"
    )
    assert _attempt(exams, exam_id) == (404, _attempt(exams, exam_id)[1])
    # ...and another learner cannot answer her exam (404, as for reading it)
    assert _answer(exams, exam_id, {"answers": right}, sub="bob")[0] == 404
    # When she answers all but the first rightly
    status, headers, graded = _answer(exams, exam_id, {"answers": wrong_first})
    # Then the attempt is graded on the server and kept
    assert status == 201, graded
    assert headers["location"] == f"/v1/exams/{exam_id}/attempt"
    assert (graded["correct"], graded["total"]) == (70, 71)
    assert graded["results"][0]["correct"] is False
    assert graded["results"][0]["answer"] == right[0]
    assert graded["results"][0]["explanation"] == questions[0]["explanation"]
    assert all(r["correct"] for r in graded["results"][1:])
    assert _attempt(exams, exam_id) == (200, graded)
    # And a second submission is a 409 that changes nothing
    status, _, error = _answer(exams, exam_id, {"answers": right})
    assert status == 409
    assert error["error"]["code"] == "conflict"
    assert _attempt(exams, exam_id) == (200, graded)
    assert _attempt(exams, exam_id, sub="bob")[0] == 404
