"""The one lifecycle: every message kind is handed back, not started, when its invocation cannot finish it; an
admission that refuses hands back or fails; an assembly leased elsewhere is a hand-back, not a failure; every kind's
failure is classified, backed off and recorded in one place."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from pregen.domain.clock import FrozenClock
from pregen.domain.errors import GenerationFailed
from pregen.domain.models import JobStatus, Kind, Lane, QuestionType
from pregen.domain.work_budget import CALLS_PER_DELIVERY, MAX_TOKENS, SECTION_MAX_TOKENS, Estimate
from pregen.messages import (
    CoursePartMessage,
    CoursePlanMessage,
    EraseMessage,
    JobMessage,
    JudgementMessage,
    SectionMessage,
    message_type,
)
from pregen.services.lifecycle import AdmissionRefused, Decision, Delivery, Lifecycle, TimeAdmission
from pregen.services.work_kinds import ContentJobs, CourseJudgements, CourseWork, Erasures, ExamSections

LARGE, SMALL = "claude-sonnet-5-5", "claude-haiku-5-5"
LESSON = {"kind": "lesson", "subject": "math", "topic": "fractions", "level": "beginner"}


def _model_for(kind: Kind) -> str:
    return LARGE if kind is Kind.EXAM else SMALL


class SentQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[Lane, dict[str, Any], int]] = []
        self.retries: list[tuple[Lane, str, int]] = []

    def send(self, lane: Lane, message: dict[str, Any], *, delay_seconds: int = 0) -> None:
        self.sent.append((lane, message, delay_seconds))

    def retry_in(self, lane: Lane, receipt_handle: str, seconds: int) -> None:
        self.retries.append((lane, receipt_handle, seconds))


def _never_started() -> Any:
    raise AssertionError("the unit was started: its deps were asked for")


def _section() -> SectionMessage:
    from pregen.domain.programs import SectionSpec

    spec = SectionSpec(
        exam_id="e1",
        program="p",
        exam_type="practice",
        subject="math",
        index=0,
        domain="algebra",
        count=30,
        offset=0,
        question_types={QuestionType.MULTIPLE_CHOICE: 30},
        difficulty={"easy": 1.0},
    )
    return SectionMessage(owner="ann", spec=spec)


KINDS = {
    "content_job": ContentJobs(_never_started, _model_for),
    "exam_section": ExamSections(_never_started, _model_for),
    "course": CourseWork(_never_started, _model_for, SMALL),
    "learner_erase": Erasures(_never_started),
    "course_judgement": CourseJudgements(_never_started, SMALL),
}
MESSAGES = [
    JobMessage(job_id="j1", key="k1", request=LESSON),
    _section(),
    CoursePlanMessage(course_id="c1", owner="ann"),
    CoursePartMessage(course_id="c1", owner="ann", part_id="p1", job_id="j2", key="k2", request=LESSON),
    EraseMessage(learner="ann", requested_at=1.0, requested_by="ann"),
    JudgementMessage(
        course_id="c1",
        owner="ann",
        part_id="m01-assessment",
        questions=[{"prompt": "What is 1/2 + 1/4?", "objective": "add fractions"}],
        objectives=["add fractions"],
        direct=True,
    ),
]


def _kind_of(message: Any) -> Any:
    tag = message_type(message)
    return KINDS[tag if tag in KINDS else "course"]


def _delivery(time_left_s: float | None) -> Delivery:
    return Delivery(receive_count=1, worker_id="w", lane=Lane.BACKGROUND, receipt_handle="r", time_left_s=time_left_s)


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_every_kind_is_handed_back_before_it_starts_when_its_time_does_not_fit(message: Any) -> None:
    # Given an invocation with less time left than the unit's worst case
    kind = _kind_of(message)
    need = kind.estimate(message).least_s
    queue = SentQueue()
    # When the lifecycle runs it (a started unit would ask for its deps and fail the test)
    outcome = Lifecycle(clock=FrozenClock(), queue=queue).run(kind, message, _delivery(need - 1))
    # Then it is handed back: the same message on its lane, at once, and this delivery succeeds
    assert outcome == "handed_back"
    assert queue.sent == [(Lane.BACKGROUND, message.wire(), 0)]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_every_kind_starts_when_its_time_fits(message: Any) -> None:
    # Given as much time left as the unit needs
    kind = _kind_of(message)
    # When the lifecycle runs it, Then it starts (here: asks for its deps, which the test refuses)
    with pytest.raises(AssertionError, match="was started"):
        Lifecycle(clock=FrozenClock(), queue=SentQueue()).run(kind, message, _delivery(kind.estimate(message).least_s))


def test_a_units_estimate_is_its_calls_at_max_tokens_on_its_tier() -> None:
    # A section: the large tier's 16k tokens, three calls, plus settling
    section = ExamSections(_never_started, _model_for).estimate(_section())
    assert section == Estimate.of(LARGE, SECTION_MAX_TOKENS, CALLS_PER_DELIVERY)
    assert 800 < section.worst_s < 900
    # A lesson on the small tier takes far less than a section
    lesson = ContentJobs(_never_started, _model_for).estimate(MESSAGES[0])
    assert lesson == Estimate.of(SMALL, MAX_TOKENS[Kind.LESSON], CALLS_PER_DELIVERY)
    assert lesson.worst_s < section.worst_s / 4


def test_a_kind_exam_request_starts_with_the_calls_that_fit() -> None:
    # Given a 225-question kind=exam job (32k tokens, ~535 s a call on the large tier) and 700 s left
    seen: list[int | None] = []

    class Recording(ContentJobs):
        def do(self, message: Any, delivery: Delivery) -> str:
            seen.append(delivery.max_calls)
            return "generated"

    kind = Recording(_never_started, _model_for)
    message = JobMessage(job_id="j", key="k", request={**LESSON, "kind": "exam"})
    # When it runs, Then it starts with one call (its re-asks do not fit), not three
    assert Lifecycle(clock=FrozenClock(), queue=SentQueue()).run(kind, message, _delivery(700)) == "generated"
    assert seen == [1]


class Refusing:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.asked: list[str] = []

    def admit(self, kind: str, estimate: Estimate, delivery: Delivery) -> Decision:
        self.asked.append(kind)
        return self.decision


def test_an_admission_that_says_later_hands_the_unit_back_after_its_delay() -> None:
    # Given an admission that says "not now, in 120 s" (as a spent budget will), and all the time in the world
    admission = Refusing(Decision("hand_back", reason="spend budget spent", after_s=120))
    queue = SentQueue()
    message = MESSAGES[0]
    # When a unit comes, Then it is handed back after 120 s without starting
    outcome = Lifecycle(clock=FrozenClock(), queue=queue, admission=admission).run(
        _kind_of(message), message, _delivery(None)
    )
    assert outcome == "handed_back"
    assert queue.sent == [(Lane.BACKGROUND, message.wire(), 120)]
    assert admission.asked == ["content_job"]


def test_an_admission_that_refuses_fails_the_record_without_starting_it() -> None:
    admission = Refusing(Decision("refuse", reason="learner over budget"))
    queue = SentQueue()
    with pytest.raises(AdmissionRefused, match="learner over budget"):
        Lifecycle(clock=FrozenClock(), queue=queue, admission=admission).run(
            _kind_of(MESSAGES[1]), MESSAGES[1], _delivery(None)
        )
    assert queue.sent == []


def test_an_assembly_leased_elsewhere_is_a_hand_back_after_the_lease_not_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pregen.services import exam_generation

    # Given a section whose exam is being assembled by another worker (a 120 s assembly lease)
    def pending(*args: Any, **kwargs: Any) -> str:
        raise exam_generation.AssemblyPending("exam e1 is being assembled by another worker")

    monkeypatch.setattr(exam_generation, "generate_exam_section", pending)
    deps = type("Deps", (), {"assembly_lease_seconds": 120})
    queue = SentQueue()
    # When the lifecycle runs it, Then it is handed back after the lease, and the delivery succeeds
    outcome = Lifecycle(clock=FrozenClock(), queue=queue).run(
        ExamSections(deps, _model_for), MESSAGES[1], _delivery(None)
    )
    assert outcome == "handed_back"
    assert queue.sent == [(Lane.BACKGROUND, MESSAGES[1].wire(), 120)]


def test_the_time_admission_starts_what_fits_and_hands_back_the_rest() -> None:
    estimate = Estimate(call_s=100, calls=2)
    admission = TimeAdmission()
    assert admission.admit("k", estimate, _delivery(None)).action == "start"
    assert admission.admit("k", estimate, _delivery(estimate.worst_s)).action == "start"
    refused = admission.admit("k", estimate, _delivery(estimate.worst_s - 1))
    assert refused.action == "hand_back"
    assert "left in this invocation" in refused.reason


class Spent:
    """A daily ceiling of $100 with ``dollars`` spent today."""

    dollars_a_day = 100.0

    def __init__(self, dollars: float) -> None:
        self.dollars = dollars

    def spent(self, now: float) -> float:
        return self.dollars


def _ceiling(dollars: float, at: float = 1_800_000_000.0) -> Any:
    from pregen.domain.clock import FrozenClock
    from pregen.services.lifecycle import CeilingAdmission

    return CeilingAdmission(ceiling=Spent(dollars), clock=FrozenClock(at=at))


def _in(lane: Lane) -> Delivery:
    return Delivery(receive_count=1, worker_id="w", lane=lane, receipt_handle="r", time_left_s=None)


def test_near_the_daily_ceiling_background_work_waits_and_learners_work_goes_on() -> None:
    # Given $95 of a $100 ceiling spent today
    admission = _ceiling(95.0)
    lesson = MESSAGES[0]
    # When a background unit and an interactive one come
    queue = SentQueue()
    background = Lifecycle(clock=FrozenClock(), queue=queue, admission=admission).run(
        _kind_of(lesson), lesson, _in(Lane.BACKGROUND)
    )
    decision = admission.admit("content_job", _kind_of(lesson).estimate(lesson), _in(Lane.INTERACTIVE))
    # Then the background one is handed back for SQS's longest delay, not started; the interactive one may start
    assert background == "handed_back"
    assert queue.sent == [(Lane.BACKGROUND, lesson.wire(), 900)]
    assert decision.action == "start"


def test_past_the_daily_ceiling_nothing_that_calls_the_model_starts_until_the_next_day() -> None:
    # Given the ceiling reached, 5 minutes before midnight UTC
    midnight = 1_800_000_000 // 86_400 * 86_400 + 86_400
    admission = _ceiling(100.0, at=midnight - 300)
    for message in MESSAGES:
        kind = _kind_of(message)
        decision = admission.admit(kind.name, kind.estimate(message), _in(Lane.INTERACTIVE))
        if kind.estimate(message).calls:
            # Then every unit that calls the model waits until the day turns (300 s), even a learner's
            assert (decision.action, decision.after_s) == ("hand_back", 300), kind.name
            assert "ceiling reached" in decision.reason
        else:
            # And an erasure pass, which spends nothing, goes on
            assert decision.action == "start"


# -- failures: one classification, one backoff, each kind's own record ------------------------------------------------


class _Port:
    def __init__(self, ports: Ports, name: str) -> None:
        self.ports, self.name = ports, name

    def __getattr__(self, method: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.ports.calls.append((self.name, method, args, kwargs))
            return self.ports.answers.get((self.name, method))

        return call


class Ports:
    """Every kind's deps at once (a course's ``content`` is the same): each port's calls recorded as
    (port, method, args, kwargs), answered from ``answers`` (None otherwise)."""

    def __init__(self, clock: FrozenClock) -> None:
        self.clock = clock
        self.content = self
        self.policy = SimpleNamespace(exam_failed_ttl_hours=24, max_model_calls=4)
        self.calls: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []
        # A course still judging the assessment (for a judgement's record), not generating (no course settles).
        course = SimpleNamespace(status="ready", judging=["m01-assessment"], expires_at=clock.now() + 86_400)
        self.answers: dict[tuple[str, str], Any] = {("courses", "get"): course, ("courses", "read_judgements"): {}}

    def __getattr__(self, port: str) -> _Port:
        return _Port(self, port)

    def written(self) -> list[tuple[str, str]]:
        """The writes (reads left out) of the kind's record."""
        return [(port, method) for port, method, _, _ in self.calls if not method.startswith(("get", "read"))]


# The work each message's kind does, by module and function: replaced by one that raises.
WORK = {
    "content_job": ("pregen.services.generation", "generate_job"),
    "exam_section": ("pregen.services.exam_generation", "generate_exam_section"),
    "course_plan": ("pregen.services.course_generation", "plan_course"),
    "course_part": ("pregen.services.course_generation", "generate_part"),
    "learner_erase": ("pregen.services.learners", "erase_pass"),
    "course_judgement": ("pregen.services.course_generation", "judge_directly"),
}
# What each kind writes of a failure: while it retries, and when it fails for good (an erasure keeps nothing).
RETRYING = {
    "content_job": [("jobs", "set_status")],
    "course_part": [("jobs", "set_status")],
}
FAILED_FOR_GOOD = {
    "content_job": [("jobs", "set_status"), ("store", "release_inflight"), ("counters", "add")],
    "exam_section": [("inventory", "fail_slot"), ("counters", "add")],
    "course_plan": [("courses", "fail")],
    "course_part": [
        ("jobs", "set_status"),
        ("store", "release_inflight"),
        ("counters", "add"),
        ("courses", "finish_part"),
    ],
    "learner_erase": [],
    "course_judgement": [("courses", "put_judgement")],
}


def _kind_with(ports: Ports, message: Any) -> Any:
    """The message's real kind, its deps the recording ports."""
    tag = message_type(message)
    if tag == "content_job":
        return ContentJobs(lambda: ports, _model_for)
    if tag == "exam_section":
        return ExamSections(lambda: ports, _model_for)
    if tag == "learner_erase":
        return Erasures(lambda: ports)
    if tag == "course_judgement":
        return CourseJudgements(lambda: ports, SMALL)
    return CourseWork(lambda: ports, _model_for, SMALL)


def _failing(
    monkeypatch: pytest.MonkeyPatch, message: Any, error: Exception, receive_count: int
) -> tuple[Ports, SentQueue, Lifecycle, Delivery]:
    import importlib

    module, function = WORK[message_type(message)]

    def raising(*args: Any, **kwargs: Any) -> str:
        raise error

    monkeypatch.setattr(importlib.import_module(module), function, raising)
    clock = FrozenClock()
    ports, queue = Ports(clock), SentQueue()
    lifecycle = Lifecycle(queue=queue, clock=clock, max_receive_count=3, retry_base_delay_s=10)
    delivery = Delivery(receive_count=receive_count, worker_id="w", lane=Lane.BACKGROUND, receipt_handle="r")
    return ports, queue, lifecycle, delivery


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_every_kind_backs_off_a_retryable_failure_and_records_it_retrying(
    monkeypatch: pytest.MonkeyPatch, message: Any
) -> None:
    # Given a kind whose work fails with a fault a retry may fix, on its first receive
    ports, queue, lifecycle, delivery = _failing(monkeypatch, message, TimeoutError("the table timed out"), 1)
    # When the lifecycle runs it, Then the delivery fails (the batch reports it) ...
    with pytest.raises(TimeoutError):
        lifecycle.run(_kind_with(ports, message), message, delivery)
    # ... and comes back after the first backoff, 10 s ± 20 %, set on its own message
    ((lane, handle, delay),) = queue.retries
    assert (lane, handle) == (Lane.BACKGROUND, "r")
    assert 8 <= delay <= 12
    assert queue.sent == []
    # ... and the kind recorded it retrying (only what it keeps), a job with its next attempt
    assert ports.written() == RETRYING.get(message.type, [])
    for port, method, args, kwargs in ports.calls:
        if (port, method) == ("jobs", "set_status"):
            assert args[1] is JobStatus.QUEUED
            assert kwargs["next_attempt_at"] == ports.clock.now() + delay


@pytest.mark.parametrize("receive_count", [1, 3], ids=["permanent", "last_receive"])
@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: m.type)
def test_every_kind_fails_for_good_on_a_permanent_failure_or_its_last_receive(
    monkeypatch: pytest.MonkeyPatch, message: Any, receive_count: int
) -> None:
    # Given a refusal (no retry can fix it) on receive 1, or a retryable fault on the last receive (3 of 3)
    error = GenerationFailed("refused", retryable=False) if receive_count == 1 else TimeoutError("timed out")
    ports, queue, lifecycle, delivery = _failing(monkeypatch, message, error, receive_count)
    # When the lifecycle runs it, Then the delivery fails, with no backoff set (nothing more to retry)
    with pytest.raises(type(error)):
        lifecycle.run(_kind_with(ports, message), message, delivery)
    assert queue.retries == []
    # ... and the kind's record says it failed for good, and why
    assert ports.written() == FAILED_FOR_GOOD[message.type]
    reason = "permanent: refused" if receive_count == 1 else "TimeoutError: timed out"
    for port, method, args, kwargs in ports.calls:
        if (port, method) == ("jobs", "set_status"):
            assert (args[1], kwargs["reason"]) == (JobStatus.FAILED, reason)
        if (port, method) in {("inventory", "fail_slot"), ("courses", "fail"), ("courses", "finish_part")}:
            assert kwargs["reason"].endswith(reason.removeprefix("permanent: "))
        if (port, method) == ("courses", "put_judgement"):
            assert args[2]["error"].endswith(reason.removeprefix("permanent: "))


def test_the_backoff_grows_with_the_receive_and_honours_the_providers_retry_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a job throttled by the provider (retry after 95 s), on its second receive
    from pregen.domain.errors import ProviderThrottled

    message = MESSAGES[0]
    error = ProviderThrottled("429", retry_after=95.0)
    ports, queue, lifecycle, delivery = _failing(monkeypatch, message, error, 2)
    with pytest.raises(ProviderThrottled):
        lifecycle.run(_kind_with(ports, message), message, delivery)
    # Then it comes back after the provider's 95 s (longer than the second backoff, 40 s ± 20 %)
    assert [delay for _, _, delay in queue.retries] == [95]
    # And a plain fault on the second receive waits 40 s ± 20 %
    ports, queue, lifecycle, delivery = _failing(monkeypatch, message, TimeoutError("t"), 2)
    with pytest.raises(TimeoutError):
        lifecycle.run(_kind_with(ports, message), message, delivery)
    assert 32 <= queue.retries[0][2] <= 48
