"""One lifecycle for every kind of queued work: admit → do → settle, hand back, retry or fail for good → count.

::

    record ─▶ parse ─▶ kind (WorkKind) ─▶ estimate (max_tokens on its tier, its calls) ─▶ Admission.admit
                                                                                            │
         ┌──────────────────────────── hand back (after N s, with a reason) ◀──────────────┤ too little time left,
         │  re-sent to its lane, this delivery acknowledged: no receive spent;             │ the spend ceiling,
         │  log line "handed back" + HandedBack metric                                     │ the provider's token
         │                                                                                 │ budget (which settles
         │                                                                                 │ when the unit ends)
         │                                                                                 ▼ start
         │                                            kind.do(message, delivery) ─▶ outcome ─▶ <Metric>_<outcome>
         │                                                     │ raises
         ├──── HandBack (an assembly leased elsewhere) ◀───────┤
         │                                                     ▼
         │        Failure.of(error, receive count, max receives): permanent? final (permanent or last receive)?
         │                                                     │
         │         not final ─▶ backoff: the message's visibility (ChangeMessageVisibility) set to retry_delay,
         │                      10/40/160 s ± 20 %, at least the provider's retry-after; next_attempt_at = now + it
         │                                                     ▼
         │              kind.settle_failure(message, delivery, error, failure, next_attempt_at): the kind's record
         │              (retrying with its next attempt, or failed for good with the reason) and its own counters
         │                                                     ▼
         │              <Kind>Failed metric, re-raise: the batch reports the record failed; it comes back after
         │              its backoff, or (final) after the queue's visibility timeout to find its work failed, or
         │              the dead-letter queue takes it after the last receive
         ▼
    Refuse (fail for good): the record fails with the reason (no admission refuses yet; see ``Admission``)

Each kind keeps what only it knows (its lease, its settle and failure records, in ``services.generation``,
``exam_generation``, ``course_generation``, ``learners``); the rules about time, hand-back, failure (permanent or
final, the backoff) and counting are here. A content job's throttle (``generation.defer_throttled``: re-sent with a
delay, no receive spent) and its call cap stay on its own path: both end as a ``failures.Described`` error here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from pregen import telemetry
from pregen.domain.clock import SystemClock
from pregen.domain.errors import PregenError
from pregen.domain.models import Lane
from pregen.domain.work_budget import Estimate  # noqa: TC001 - the default admission's answers use it
from pregen.observability import logger, metrics
from pregen.services.failures import Failure, retry_delay

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

    from pregen.messages import AnyMessage
    from pregen.ports import Clock, JobQueue


@dataclass(frozen=True)
class Delivery:
    """One SQS delivery: how many times it was received, who holds its leases, where it came from, and the time
    its invocation has left (None: not known, as in a direct call)."""

    receive_count: int
    worker_id: str
    lane: Lane
    receipt_handle: str | None = None
    time_left_s: float | None = None
    max_calls: int | None = None  # set by the lifecycle for an adjustable unit: the model calls that fit


class HandBack(PregenError):
    """The unit cannot go on now but is not failing (an assembly leased by another worker): send it back."""

    def __init__(self, reason: str, *, after_s: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_s = after_s


class AdmissionRefused(PregenError):
    """The admission refused the unit for good: the record fails with the reason."""


@dataclass(frozen=True)
class Decision:
    """What the admission says about one unit: start it, hand it back after ``after_s``, or refuse it for good."""

    action: Literal["start", "hand_back", "refuse"]
    reason: str = ""
    after_s: int = 0
    max_calls: int | None = None  # for an adjustable unit that starts: the calls it may make
    # For a unit that starts: called when it ends, however it ends (the provider budget's settle).
    settle: Callable[[], None] | None = field(default=None, compare=False)


START = Decision("start")


class Admission(Protocol):
    """May this unit start now? The one place that decides, for every kind of queued work."""

    def admit(self, kind: str, estimate: Estimate, delivery: Delivery) -> Decision: ...


class TimeAdmission:
    """Admits what the invocation's time left can finish; hands the rest back at once (a fresh invocation has its
    whole budget, so no delay). Admissions about money and the provider (``CeilingAdmission``,
    ``provider_budget.TokenBudgetAdmission``) decide first and end here."""

    def admit(self, kind: str, estimate: Estimate, delivery: Delivery) -> Decision:
        time_left_s = delivery.time_left_s
        if time_left_s is None:
            return START
        if time_left_s < estimate.least_s:
            need = round(estimate.least_s)
            return Decision("hand_back", reason=f"needs {need} s, {int(time_left_s)} s left in this invocation")
        if estimate.adjustable:
            return Decision("start", max_calls=estimate.calls_within(time_left_s))
        return START


# SQS delays a message at most 15 minutes: work held until the next day is handed back in steps of this.
_LONGEST_DELAY_S = 900
_DAY = 86_400


@dataclass
class CeilingAdmission:
    """The operator's daily spend ceiling, on the worker's side: once today's recorded spend reaches ``near`` of the
    ceiling, background work waits (handed back, no receive spent); once it reaches the ceiling, nothing that calls
    the model starts in either lane. Work is handed back in 15-minute steps until the next UTC day. Units that make
    no model call (erasure passes) always go on. Ends with ``then`` (the time check)."""

    ceiling: DailyCeiling
    clock: Clock
    then: Admission = field(default_factory=TimeAdmission)
    near: float = 0.9

    def admit(self, kind: str, estimate: Estimate, delivery: Delivery) -> Decision:
        if estimate.calls > 0:
            now = self.clock.now()
            spent, cap = self.ceiling.spent(now), self.ceiling.dollars_a_day
            wait = min(_LONGEST_DELAY_S, _DAY - int(now) % _DAY)
            if spent >= cap:
                telemetry.emit("SpendCeilingReached", 1)
                return Decision(
                    "hand_back", reason=f"daily spend ceiling reached (${spent:,.2f} of ${cap:,.2f})", after_s=wait
                )
            if delivery.lane is Lane.BACKGROUND and spent >= self.near * cap:
                reason = f"near the daily spend ceiling (${spent:,.2f} of ${cap:,.2f}): background work waits"
                return Decision("hand_back", reason=reason, after_s=wait)
        return self.then.admit(kind, estimate, delivery)


class DailyCeiling(Protocol):
    @property
    def dollars_a_day(self) -> float: ...

    def spent(self, now: float) -> float: ...


class WorkKind(Protocol):
    """One kind of queued work: what the lifecycle asks of it."""

    name: str  # the message's type, in logs
    metric: str  # outcome metrics are ``<metric>_<outcome>``
    failed_metric: str  # counted when its work raises

    def log_keys(self, message: Any) -> dict[str, Any]: ...

    def estimate(self, message: Any) -> Estimate: ...

    def do(self, message: Any, delivery: Delivery) -> str: ...

    def settle_failure(
        self, message: Any, delivery: Delivery, exc: Exception, failure: Failure, next_attempt_at: float | None
    ) -> None:
        """Write what this kind keeps of a failed delivery (``failure.final``: failed for good, with the reason;
        else retrying, due at ``next_attempt_at`` when the backoff was set) and count what only it counts."""
        ...


@dataclass
class Lifecycle:
    """Runs units of work of any kind under one set of rules."""

    queue: JobQueue
    admission: Admission = field(default_factory=TimeAdmission)
    clock: Clock = field(default_factory=SystemClock)
    max_receive_count: int = 3  # the queues' maxReceiveCount: the last receive fails for good
    retry_base_delay_s: int = 10  # the first retry's backoff (``failures.retry_delay``)
    rng: random.Random | None = None  # the backoff's jitter (None: the module's)

    def run(self, kind: WorkKind, message: AnyMessage, delivery: Delivery) -> str:
        keys = kind.log_keys(message)
        logger.append_keys(**keys)
        try:
            return self._run(kind, message, delivery)
        finally:
            logger.remove_keys(list(keys))

    def _run(self, kind: WorkKind, message: AnyMessage, delivery: Delivery) -> str:
        estimate = kind.estimate(message)
        decision = self.admission.admit(kind.name, estimate, delivery)
        if decision.action == "hand_back":
            return self.hand_back(kind, message, delivery, decision.reason, decision.after_s)
        if decision.action == "refuse":
            logger.warning("refused for good", kind=kind.name, reason=decision.reason)
            metrics.add_metric(name=kind.failed_metric, unit=MetricUnit.Count, value=1)
            raise AdmissionRefused(decision.reason)
        if decision.max_calls is not None:
            delivery = Delivery(**{**delivery.__dict__, "max_calls": decision.max_calls})
        try:
            outcome = kind.do(message, delivery)
        except HandBack as back:
            return self.hand_back(kind, message, delivery, back.reason, back.after_s)
        except Exception as exc:
            self.fail(kind, message, delivery, exc)
            raise
        finally:
            if decision.settle is not None:
                decision.settle()
        metrics.add_metric(name=f"{kind.metric}_{outcome}", unit=MetricUnit.Count, value=1)
        return outcome

    def fail(self, kind: WorkKind, message: AnyMessage, delivery: Delivery, exc: Exception) -> Failure:
        """Classify the failure once, back the message off unless it is final, have the kind write its record,
        count it. The caller re-raises (the batch reports the record failed)."""
        failure = Failure.of(exc, receive_count=delivery.receive_count, max_receive_count=self.max_receive_count)
        now = self.clock.now()
        delay = None if failure.final else self._back_off(kind, delivery, failure)
        logger.warning(
            "failed",
            kind=kind.name,
            reason=failure.reason,
            category=failure.category,
            final=failure.final,
            retry_in_s=delay,
        )
        try:
            kind.settle_failure(message, delivery, exc, failure, None if delay is None else now + delay)
        except Exception:  # the delivery still fails and comes back; its record is written then, or by the DLQ's
            logger.exception("could not record the failure", kind=kind.name)
        metrics.add_metric(name=kind.failed_metric, unit=MetricUnit.Count, value=1)
        return failure

    def _back_off(self, kind: WorkKind, delivery: Delivery, failure: Failure) -> int | None:
        """The message comes back after its backoff (ChangeMessageVisibility): the delay, or None when it cannot be
        set (no receipt handle, or the call failed: the queue's visibility timeout brings it back)."""
        if delivery.receipt_handle is None:
            return None
        delay = retry_delay(delivery.receive_count, self.retry_base_delay_s, failure.retry_after, self.rng)
        try:
            self.queue.retry_in(delivery.lane, delivery.receipt_handle, delay)
        except Exception:
            logger.exception("could not set the retry delay", kind=kind.name)
            return None
        return delay

    def hand_back(self, kind: WorkKind, message: AnyMessage, delivery: Delivery, reason: str, after_s: int) -> str:
        """Re-send the message to its lane (after ``after_s``) and let this delivery succeed: no receive is spent."""
        self.queue.send(delivery.lane, message.wire(), delay_seconds=after_s)
        logger.info("handed back", kind=kind.name, reason=reason, after_s=after_s, time_left_s=delivery.time_left_s)
        metrics.add_metric(name="HandedBack", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"{kind.metric}_handed_back", unit=MetricUnit.Count, value=1)
        return "handed_back"
