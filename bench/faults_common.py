"""What the two modes of ``python -m bench faults`` share (in process, and ``--stack`` on the local stack): the
run's settings, its report, the jobs it asks for, and how each accepted job is classified at the end."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pregen_fakes.fake_anthropic import FaultRates

SUBJECTS = ("math", "chemistry", "history", "biology", "physics", "geography", "english", "music")
QUESTION_TYPES = ("multiple_choice", "true_false", "numeric", "short_answer", "fill_blank")
LANES = ("InteractiveQueue", "BackgroundQueue")
FAULTS = ("rate_limited", "overloaded", "timeout", "reset", "truncated", "invalid", "refusal")
DLQS = {"InteractiveQueue": "InteractiveDeadLetterQueue", "BackgroundQueue": "BackgroundDeadLetterQueue"}


@dataclass
class FaultConfig:
    jobs: int = 1000
    faults: FaultRates | None = None
    duplicate_rate: float = 0.05
    crash_rate: float = 0.02
    joins: float = 0.1
    seed: int = 7
    sdk_max_retries: int = 1
    client_timeout_s: float = 0.3
    max_rounds: int = 200  # a round ends early once both lanes are empty; throttled jobs may need a few seconds
    wave: int = 100  # jobs accepted at a time
    one_of_each: bool = False  # serve every kind of fault once first, whatever the rates draw
    follow: str = "prompt"  # "schema": the fake answers from the output schema alone (pregen_fakes.schema_follower)
    mix: str = "lessons"  # "kinds": every kind a schema can constrain, in turn
    plain_schema: bool = False  # send each kind's schema, not the request's (how it was before issue 16)
    settle_s: float = 900.0  # --stack: the longest wait for the lanes to drain once every job is accepted
    lease_s: int = 30  # --stack: the worker's LEASE_SECONDS (the template's is 330)
    retry_visibility_s: int | None = None  # --stack: the stack's retry visibility; None: the lease + 5 s
    billed_kill_rate: float = 0.0  # --stack: share of answered Messages requests whose worker is killed just after
    batches: bool = False  # --stack: the background lane through the Message Batches API (BATCH_BACKGROUND=true)
    # Share of model calls that outlive the function timeout: the provider answers (and bills) after the runtime
    # has ended the invocation. --stack: the worker's Timeout is ``function_timeout_s`` for the run.
    outlive_rate: float = 0.0
    function_timeout_s: int | None = None  # --stack: the worker's Timeout (None: the template's, or 130 s to outlive)

    def fault_rates(self) -> FaultRates:
        from pregen_fakes.fake_anthropic import FaultRates

        return self.faults or FaultRates(
            rate_limited=0.05,
            overloaded=0.03,
            timeout=0.01,
            reset=0.03,
            truncated=0.03,
            invalid=0.05,
            refusal=0.01,
            seed=self.seed,
            retry_after=0.01,
            hang_s=self.client_timeout_s * 2,
            keyed=True,
        )


@dataclass
class FaultReport:
    jobs: int = 0
    joined: int = 0
    done: int = 0
    failed: int = 0
    failed_in_dlq: int = 0
    lost: list[str] = field(default_factory=list)
    lost_in_dlq: int = 0  # lost jobs whose message is in a dead-letter queue (their record says nothing of it)
    generated_twice: list[str] = field(default_factory=list)
    stored_twice: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    faults_served: Counter[str] = field(default_factory=Counter)
    model_requests: int = 0
    re_asks: int = 0  # model requests that carried the previous answer's errors
    max_job_calls: int = 0  # the most model calls any job made (its record's model_calls)
    deliveries: int = 0
    duplicates_sent: int = 0
    crashes: int = 0
    rounds: int = 0
    dlq_messages: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    # --stack only: the worker environments its pool lost, the HTTP answers (method, path, status) and the 5xx
    # among them, and crashes drawn whose connection no worker environment held (none expected).
    environments_lost: int = 0
    invocation_timeouts: int = 0  # --stack: invocations the runtime ended at the worker's Timeout (Sandbox.Timedout)
    http: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0
    missed_crashes: int = 0
    # Billed answers: valid answers per key, by who received them: a live worker (a direct call), a worker killed
    # just after the answer was sent (--billed-kills), or a batch's results (--batches).
    valid_live: Counter[str] = field(default_factory=Counter)
    valid_killed: Counter[str] = field(default_factory=Counter)
    valid_batch: Counter[str] = field(default_factory=Counter)
    billed_kills: int = 0  # workers killed just after their (billed) answer was sent
    outlived: int = 0  # model calls that outlived the function timeout (the invocation ended before the answer)
    outlived_billed: int = 0  # of which the provider answered validly (billed; the worker never saw the usage)
    batch_requests: int = 0
    superseded: int = 0  # keys answered by a batch and by a direct call (the app counts the batch answer as wasted)
    unaccounted: list[str] = field(default_factory=list)  # billed valid answers neither stored, killed nor wasted
    judge_requests: int = 0  # of model_requests: the near-duplicate judge's (charged to the job whose miss asked)
    other_requests: int = 0  # of model_requests: neither a generation nor a judgement (none expected here)
    # The model requests beyond each job's first, by what the request before it for the same key came to
    # (``extra_requests``): a 429/529 or a dropped connection asked again, an invalid answer re-asked, ...
    extra: Counter[str] = field(default_factory=Counter)
    keys_asked: int = 0  # distinct keys that had at least one generation request (a job served by an alias has none)

    @property
    def ok(self) -> bool:
        accounted = self.done + self.failed == self.jobs
        broken = self.lost or self.generated_twice or self.stored_twice or self.server_errors or self.unaccounted
        return accounted and not broken

    def summary(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "joined_requests": self.joined,
            "done": self.done,
            "failed": self.failed,
            "failed_with_message_in_dlq": self.failed_in_dlq,
            "lost": len(self.lost),
            "lost_with_message_in_dlq": self.lost_in_dlq,
            "generated_twice": len(self.generated_twice),
            "stored_twice": len(self.stored_twice),
            "model_requests": self.model_requests,
            "model_calls_per_accepted_job": round(self.model_requests / self.jobs, 3) if self.jobs else None,
            "re_asks_per_1000_jobs": round(1000 * self.re_asks / self.jobs, 1) if self.jobs else None,
            "max_model_calls_of_a_job": self.max_job_calls,
            "faults_served": dict(self.faults_served.most_common()),
            "deliveries": self.deliveries,
            "duplicate_deliveries": self.duplicates_sent,
            "crashes": self.crashes,
            "rounds": self.rounds,
            "dlq_messages": self.dlq_messages,
            "failure_reasons": dict(self.reasons.most_common()),
            "seconds": round(self.seconds, 1),
            "phase_seconds": {k: round(v, 1) for k, v in self.phases.items()},
            "environments_lost": self.environments_lost,
            "invocation_timeouts": self.invocation_timeouts,
            "http": self.http,
            "server_errors": self.server_errors,
            "missed_crashes": self.missed_crashes,
            "billed_kills": self.billed_kills,
            "outlived_timeouts": self.outlived,
            "outlived_billed": self.outlived_billed,
            "valid_answers": {
                "live": sum(self.valid_live.values()),
                "killed": sum(self.valid_killed.values()),
                "batch": sum(self.valid_batch.values()),
            },
            "batch_requests": self.batch_requests,
            "superseded": self.superseded,
            "unaccounted": len(self.unaccounted),
            "judge_requests": self.judge_requests,
            "other_requests": self.other_requests,
            "extra_requests_by_cause": dict(self.extra.most_common()),
            "keys_asked": self.keys_asked,
            "faults_drawn": self.faults_drawn,
            "fault_share": round(self.faults_drawn / self.model_requests, 3) if self.model_requests else None,
        }

    @property
    def faults_drawn(self) -> int:
        """Requests the fake answered with an injected fault (a crash's dropped request included)."""
        return sum(n for name, n in self.faults_served.items() if name.removeprefix("batch ") not in {"ok", *NOT_DRAWN})


# --mix kinds: every kind whose request a schema can constrain, in turn (whole exams are generated by sections).
KIND_MIX: list[dict[str, Any]] = [
    {"kind": "lesson"},
    *({"kind": "question_set", "question_type": t, "count": 4} for t in QUESTION_TYPES),
    {"kind": "vocabulary_drill", "language": "spanish", "count": 7},
    {"kind": "grammar_exercise", "language": "spanish", "count": 6},
    {"kind": "cultural_content", "language": "french"},
    {"kind": "pronunciation_drill", "language": "french", "count": 5},
    {"kind": "conversation_practice", "language": "german", "count": 6},
]


def job_requests(config: FaultConfig) -> list[dict[str, Any]]:
    shapes = KIND_MIX if config.mix == "kinds" else [{"kind": "lesson"}]
    return [
        {
            **shapes[i % len(shapes)],
            "subject": SUBJECTS[i % len(SUBJECTS)],
            "topic": f"topic {i}",
            "grade": str(1 + i % 12),
        }
        for i in range(config.jobs)
    ]


def drain_dead_letters(sqs: Any, urls: list[str]) -> Counter[str]:
    """Every message in the dead-letter queues, deleted: how many there were per job id."""
    in_dlq: Counter[str] = Counter()
    for url in urls:
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for m in messages:
                in_dlq[json.loads(m["Body"])["job_id"]] += 1
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return in_dlq


def classify(
    report: FaultReport, accepted: dict[str, str], jobs: Any, store: Any, *, in_dlq: Counter[str], now: float
) -> None:
    """Each accepted job: done (its content is stored), failed (its record says why), or lost (anything else)."""
    from pregen.domain.models import JobStatus

    report.jobs = len(accepted)
    report.dlq_messages = sum(in_dlq.values())
    for job_id in accepted:
        job = jobs.get_job(job_id)
        if job is None:
            report.lost.append(job_id)
            report.lost_in_dlq += job_id in in_dlq
            continue
        report.max_job_calls = max(report.max_job_calls, job.model_calls)
        if job.status is JobStatus.DONE and store.get_content(job.key, now, consistent=True):
            report.done += 1
        elif job.status is JobStatus.FAILED and job.reason:
            report.failed += 1
            report.failed_in_dlq += job_id in in_dlq
            report.reasons[
                job.reason.split(":", 2)[0]
                if not job.reason.startswith("permanent")
                else ":".join(job.reason.split(":", 2)[:2])
            ] += 1
        else:
            report.lost.append(f"{job_id}: {job.status.value} {job.reason or ''}")
            report.lost_in_dlq += job_id in in_dlq


# What the fake served that is no injected fault: a request it could not answer (none expected since the judge and
# exam sections are answered).
NOT_DRAWN = frozenset({"invalid_request_error"})
# The provider faults that are asked again (by the SDK, a re-ask or the next delivery); a refusal ends its job.
RETRIED = ("rate_limited", "overloaded", "timeout", "reset", "truncated", "invalid")


def expected_requests_per_job(config: FaultConfig, *, stack: bool) -> tuple[float, float]:
    """The share p of requests whose answer is lost to the mix and asked again, and the requests per job that
    implies, 1/(1-p) (each request fails independently; refusals, the cap and judgements left out): the provider's
    retried faults, and on the stack a crash, a billed kill (at most: the worker may have stored the answer within
    the 50 ms) and a call that outlives the timeout; in process a crash comes before its call and costs none."""
    rates = config.fault_rates()
    p = sum(getattr(rates, name) for name in RETRIED) + config.outlive_rate
    if stack:
        p += config.crash_rate + config.billed_kill_rate
    return p, 1 / (1 - p) if p < 1 else float("inf")


def _cause(fault: str | None, *, lost: str | None, batch: bool) -> str:
    """Why a request for a key came after this one: what this one came to."""
    if lost:
        return lost
    where = "batch " if batch else ""
    if fault is None:
        return f"after a valid {where}answer" + ("" if batch else " to a live worker")
    named = {
        "rate_limit_error": "429",
        "overloaded_error": "529",
        "api_error": "5xx",
        "timeout": "timeout (held, reset)",
        "reset": "connection reset",
        "client_gone": "crash (SIGKILL mid-request)",
        "invalid": "invalid answer (re-ask)",
        "max_tokens": "truncated answer (re-ask)",
        "refusal": "refusal",
        "invalid_request_error": "400 (unanswerable)",
    }.get(fault, fault)
    return f"after {where}{named}"


def extra_requests(report: FaultReport, fake: Any, *, killed: set[int], outlived: set[int]) -> None:
    """Where the requests beyond one per job go: each key's generation requests (direct and in batches) in time
    order; every one after the first is put down to what the one before it came to (a 429 asked again, an invalid
    answer re-asked, a billed answer lost to a kill, ...). ``killed``/``outlived``: ids of the fake's records whose
    worker was killed just after the answer, or whose answer came after the invocation had ended."""
    from pregen_fakes.fake_anthropic import content_request_from, request_kind

    timeline: dict[str, list[tuple[float, str]]] = {}

    def key(body: Any) -> str:
        return json.dumps(content_request_from(body).canonical(), sort_keys=True)

    for recorded in list(fake.requests):
        if recorded.path.split("?", 1)[0].rstrip("/").endswith("/batches"):
            continue
        if request_kind(recorded.body) != "content":
            continue
        lost = (
            "after a billed answer lost to a kill"
            if id(recorded) in killed - outlived
            else "after a call that outlived the timeout"
            if id(recorded) in outlived
            else None
        )
        cause = _cause(recorded.fault, lost=lost, batch=False)
        timeline.setdefault(key(recorded.body), []).append((recorded.at, cause))
    for batch in list(fake.batches.values()):
        for _, params, _, fault in batch.get("answered", []):
            timeline.setdefault(key(params), []).append((batch["created_at"], _cause(fault, lost=None, batch=True)))
    report.keys_asked = len(timeline)
    for events in timeline.values():
        events.sort()
        for _, before in events[:-1]:  # each but the last has a request after it
            report.extra[before] += 1


def count_answers(report: FaultReport, fake: Any, killed: set[int] | None = None) -> None:
    """What the fake was asked and answered, directly and in batches. ``killed``: the ids of the recorded answers
    whose worker was killed just after receiving them. A key generated twice is one with more than one complete,
    valid answer to live workers, or more than one in batches: a batch answer and a direct one for the same key
    is a superseded batch answer (a learner's miss moved the job to a direct call), which the app counts as wasted."""
    from pregen_fakes.fake_anthropic import content_request_from, request_kind

    def key(body: Any) -> str:
        return json.dumps(content_request_from(body).canonical(), sort_keys=True)

    for recorded in list(fake.requests):
        if recorded.path.split("?", 1)[0].rstrip("/").endswith("/batches"):
            continue  # a batch's creation: its requests are counted below
        report.model_requests += 1
        report.re_asks += len(recorded.messages) > 1
        report.faults_served[recorded.fault or "ok"] += 1
        kind = request_kind(recorded.body)
        report.judge_requests += kind == "judge"
        report.other_requests += kind not in {"judge", "content"}
        if kind != "content":
            continue  # a judgement (or anything else) answers no key: not a generation
        if recorded.status == 200 and recorded.fault is None and recorded.messages:
            into = report.valid_killed if killed and id(recorded) in killed else report.valid_live
            into[key(recorded.body)] += 1
    for batch in list(fake.batches.values()):
        report.batch_requests += int(batch["count"])
        report.model_requests += int(batch["count"])
        for _, params, status, fault in batch.get("answered", []):
            report.faults_served[f"batch {fault or 'ok'}"] += 1
            if status == 200 and fault is None:
                report.valid_batch[key(params)] += 1
    twice = {k for k, n in report.valid_live.items() if n > 1} | {k for k, n in report.valid_batch.items() if n > 1}
    report.generated_twice = sorted(twice)
    report.superseded = sum(1 for k in report.valid_batch if report.valid_live[k])


def count_outlived(report: FaultReport, fake: Any, outlived: set[int]) -> None:
    """Of the recorded answers (``outlived``: their ids) that arrived after their invocation had ended at its
    timeout, the complete, valid ones: billed by the provider, never seen by the worker (so not in the app's spend
    counters: only the provider's usage report shows them)."""
    for recorded in list(fake.requests):
        if id(recorded) in outlived and recorded.status == 200 and recorded.fault is None and recorded.messages:
            report.outlived_billed += 1


def account_billed(report: FaultReport, outcomes: dict[str, bool]) -> None:
    """Every billed valid answer accounted for (``outcomes``: each accepted job's canonical request → done): a done
    key had a valid answer; a key whose job failed had none that reached a live worker (one would have been
    stored), and no batch answer (one would have been stored or, once superseded, counted as wasted)."""
    for key, done in outcomes.items():
        answers = report.valid_live[key] + report.valid_killed[key] + report.valid_batch[key]
        if (done and answers == 0) or (not done and (report.valid_live[key] or report.valid_batch[key])):
            report.unaccounted.append(key)


def load_cap() -> int:
    from pregen.config.worker import GenerationPolicy

    return int(GenerationPolicy.model_fields["max_model_calls"].default)


def floor_lines(config: FaultConfig, report: FaultReport, *, stack: bool) -> list[str]:
    """The requests-per-job figure beside what the fault mix allows: the rates' and the draws' expected figure, and
    where the requests beyond one per job went."""
    p, expected = expected_requests_per_job(config, stack=stack)
    s = report.summary()
    refusals = sum(n for name, n in report.faults_served.items() if name.removeprefix("batch ") == "refusal")
    lost = report.faults_drawn - refusals + report.billed_kills + report.outlived
    drawn = lost / report.model_requests if report.model_requests else 0.0
    generations = report.model_requests - report.judge_requests - report.other_requests
    lines = [
        "| what the mix allows | requests per accepted job |",
        "|---|---|",
        f"| expected from the rates: {p:.0%} of requests lost to a fault and asked again, 1/(1-p) | {expected:.3f} |",
        f"| expected from this run's draws: {lost} of {report.model_requests} requests ({drawn:.1%}) lost to a fault "
        f"(the fake drew {report.faults_drawn} faults, {s['fault_share']:.1%} of requests; refusals end their job) | "
        f"{1 / (1 - drawn) if drawn < 1 else float('inf'):.3f} |",
        f"| measured: generations only ({generations} requests) | {generations / report.jobs:.3f} |"
        if report.jobs
        else "| measured | - |",
        f"| measured: with the near-duplicate judge's {report.judge_requests} requests | "
        f"{s['model_calls_per_accepted_job']} |",
        "",
        f"Requests beyond one per job ({report.model_requests} requests, {report.jobs} jobs, {report.keys_asked} keys "
        "asked: a job served by a verified alias asks none), each put down to what the key's request before it "
        "came to:",
        "",
        "| the request before it | requests |",
        "|---|---|",
        *(f"| {cause} | {n} |" for cause, n in report.extra.most_common()),
        f"| (the near-duplicate judge's requests) | {report.judge_requests} |",
    ]
    if report.other_requests:
        lines.append(f"| (requests neither a generation nor a judgement) | {report.other_requests} |")
    return lines
