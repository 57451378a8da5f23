"""bench.faults on the local stack (``python -m bench faults --stack``): the same faults, but the jobs go where an
app's would, and the platform's faults are done to real processes.

- Jobs enter through the HTTP API: an admin's ``POST /v1/pregenerate`` (waves alternating priority 50 and 30, so
  both lanes), then some learners ask for the same content (``GET /v1/content``, each with a token of their own):
  they join the job in flight (and a learner's miss moves a background job to the interactive lane as well), or
  get the content if it is already there.
- The stack's pollers deliver the lanes' batches to the worker's execution environments (processes; the lanes'
  MaximumConcurrency capped at 4 each), which run on DynamoDB Local, whose conditional writes and transactions are
  atomic across writers as DynamoDB's are.
- The worker's ``AnthropicGenerator`` is configured as in production (``ANTHROPIC_API_KEY``,
  ``ANTHROPIC_BASE_URL``: its own timeout and SDK retries) and talks HTTP to the fake Messages API, served from this
  process, which injects the provider's faults at the seeded rates of the in-process mode.
- Duplicate deliveries: when a poller receives messages from a lane, some are sent again to that lane, as they are
  (a boto3 ``after-call`` hook on the pollers' SQS client; SQS is at-least-once).
- Crashes mid-job: when a worker environment's Messages request reaches the fake, at the crash rate the fake finds
  the process holding that connection (``/proc``) and SIGKILLs it; the request is not answered. The environment's
  pool loses it and the poller returns the batch to its queue.
- Calls that outlive the function timeout (``--outlive-timeouts``): the fake answers (and bills) but holds the answer
  until the runtime has killed the environment at the worker's Timeout (130 s for the run), as Lambda ends an
  invocation; the batch comes back after the retry visibility, which is then longer than that Timeout.

On AWS the crashed batch comes back after the queue's visibility timeout (1800 s), well after the lease (330 s)
has expired. Locally the poller makes a failed batch visible again after ``retry_visibility_s`` (2 s by default),
so this run keeps AWS's order with a lease of ``LEASE_SECONDS`` (the worker's setting, through ``extra_env``) and
a retry visibility just longer: ``--lease`` and ``--retry-visibility`` (default: the lease + 5 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from bench import faults_common
from bench.harness import Environment, http
from pregen.domain.work_budget import LEASE_SECONDS, VISIBILITY_TIMEOUT_S, WORKER_TIMEOUT_S

if TYPE_CHECKING:
    from bench.faults_common import FaultConfig

LANES = ("InteractiveQueue", "BackgroundQueue")
DLQS = ("InteractiveDeadLetterQueue", "BackgroundDeadLetterQueue")
# The worker's lease (FaultConfig.lease_s, 30 s by default) is shortened from the template's 330 s so that a crashed
# job is back within a minute; still several times the longest generation here (a few seconds: four model calls, a
# 2 s hang, the SDK's backoff). A failed batch stays invisible a little longer than the lease (the stack's retry
# visibility), as AWS's 1800 s visibility timeout is longer than the 330 s lease.
VISIBILITY_MARGIN_S = 5
# The fake's "timeout": it holds the request this long, then resets it (the worker's client waits up to 600 s).
HANG_S = 2.0
# --billed-kills: the worker is killed this long after its answer is handed to the HTTP server (it has the answer,
# or is reading it; it may have stored it already).
BILLED_KILL_DELAY_S = 0.05
# --batches: how often the run asks for the batch collection (the template's schedule: every 5 minutes).
COLLECT_EVERY_S = 3.0
# --outlive-timeouts: the worker's Timeout for the run (the template's: 900 s), so that a call outliving it ends in
# about two minutes: above a lesson's worst case on its tier (3 calls of 4k tokens on the small tier: ~118 s), which
# the worker's admission requires before it starts one. A failed batch then stays invisible a little longer than it.
OUTLIVE_FUNCTION_TIMEOUT_S = 130
WAVE = 50  # requests per POST /v1/pregenerate (at most 100): a few DynamoDB and SQS calls each, within 29 s


def _http(method: str, url: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    """The status and JSON object of one request (an error's too; {} when the body is not a JSON object)."""
    status, _, answer = http.request(method, url, token, body)
    return status, answer if isinstance(answer, dict) else {}


def _socket_inode(client_port: int, server_port: int) -> str | None:
    """The inode of the TCP socket whose local port is ``client_port`` and remote port ``server_port``."""
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if int(local.rsplit(":", 1)[1], 16) == client_port and int(remote.rsplit(":", 1)[1], 16) == server_port:
                    return fields[9]
    return None


def _owner_of_connection(client: tuple[str, int], server_port: int, function: str) -> int | None:
    """The pid of this process's child running ``function``'s environment that holds the TCP connection from
    ``client`` to ``server_port`` (read from /proc), or None."""
    inode = _socket_inode(client[1], server_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            mine = parent == os.getpid() and b"aws_emulator.environment" in cmdline and function.encode() in cmdline
            if mine and any(str(fd.readlink()) == target for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:  # the process ended meanwhile
            continue
    return None


def _alive(pid: int) -> bool:
    """The process runs (not gone, not a zombie waiting to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _canonical(spec: dict[str, Any]) -> str:
    from pregen.domain.models import ContentRequest

    return json.dumps(ContentRequest.model_validate(spec).canonical(), sort_keys=True)


class Platform:
    """The platform's faults: SQS's duplicate deliveries (a hook on the pollers' client) and crashes of worker
    environments (SIGKILL, from the fake's ``before_answer``)."""

    def __init__(self, config: FaultConfig, report: faults_common.FaultReport, fake_port: int) -> None:
        self.config = config
        self.report = report
        self.fake_port = fake_port
        self.lock = threading.Lock()
        self.lane_urls: set[str] = set()
        self.sender: Any = None
        self.missed_crashes = 0
        self.killed_answers: set[int] = set()  # ids of the fake's recorded answers whose worker was then killed
        self.outlived_answers: set[int] = set()  # answers sent after the runtime had ended the invocation
        # Keyed draws: each fault is drawn from the seed, the fault and what it lands on (a Messages request's model
        # and messages, a message's body) with how often that came before, so the draws do not depend on the
        # order the stack's concurrent workers and pollers happen to run in (as the fake's own draws, FaultRates.keyed).
        self.seen: Counter[str] = Counter()
        self.current = threading.local()  # the Messages request this thread is answering: its draw key
        # FAULTS_FORENSICS=1: the worker environment (pid) each valid answer went to, so that an answer to a worker
        # the runtime ended later (its Timeout) shows as such.
        self.answered_to: dict[int, int] = {}

    def draw(self, fault: str, key: str | None = None) -> float:
        """A number in [0, 1) for ``fault`` on ``key`` (default: the request this thread answers)."""
        return random.Random(f"{self.config.seed}:{fault}:{key or getattr(self.current, 'key', '')}").random()

    def _request_key(self, raw: bytes) -> str:
        """The draw key of a Messages request: its model and messages, and how often the same came before."""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        identity = json.dumps([body.get("model"), body.get("messages")], sort_keys=True, default=str)
        with self.lock:
            self.seen[identity] += 1
            return f"{identity}#{self.seen[identity]}"

    def outlive(self, fake: Any, answer: Any, client: tuple[str, int]) -> bool:
        """At the outlive rate, this call outlives the function timeout: its answer is held until the runtime has
        killed the worker environment that asked (at the function's Timeout, as Lambda ends an invocation), then
        sent to a closed connection. The provider has billed it; the worker never saw it."""
        if self.draw("outlive") >= self.config.outlive_rate:
            return False
        pid = _owner_of_connection(client, self.fake_port, "WorkerFunction")
        if pid is None:  # crashed already (the crash fault), or the request was not the worker's
            return False
        recorded = next((r for r in reversed(fake.requests) if r.response is answer), None)
        with self.lock:
            if recorded is not None:
                self.outlived_answers.add(id(recorded))
            self.report.outlived += 1
        limit = time.monotonic() + function_timeout(self.config) + 60
        while _alive(pid) and time.monotonic() < limit:
            time.sleep(0.2)
        return True

    def wrap(self, fake: Any) -> None:
        """Answer, then (at the billed-kill rate) kill the worker environment that asked, just after the answer is
        on its way: the provider has billed it, and the worker may or may not have stored it."""
        handle = fake.handle

        def answered_then_killed(
            path: str,
            headers: dict[str, str],
            raw: bytes,
            client: tuple[str, int] | None = None,
            received: float | None = None,
        ) -> tuple[int, dict[str, str], dict[str, Any]]:
            messages = path.split("?", 1)[0].rstrip("/") == "/v1/messages"
            self.current.key = self._request_key(raw) if messages else None
            status, extra, answer = handle(path, headers, raw, client, received)
            if client is None or not messages:
                return status, extra, answer
            if self.outlive(fake, answer, client) or status != 200:
                return status, extra, answer
            if FORENSICS:
                self._note_receiver(fake, answer, client)
            if self.draw("billed-kill") >= self.config.billed_kill_rate:
                return status, extra, answer
            pid = _owner_of_connection(client, self.fake_port, "WorkerFunction")
            if pid is None:
                with self.lock:
                    self.missed_crashes += 1
                return status, extra, answer
            recorded = next((r for r in reversed(fake.requests) if r.response is answer), None)
            with self.lock:
                if recorded is not None:
                    self.killed_answers.add(id(recorded))
                self.report.billed_kills += 1
            threading.Timer(BILLED_KILL_DELAY_S, _kill_quietly, (pid,)).start()
            return status, extra, answer

        fake.handle = answered_then_killed

    def _note_receiver(self, fake: Any, answer: Any, client: tuple[str, int]) -> None:
        pid = _owner_of_connection(client, self.fake_port, "WorkerFunction")
        recorded = next((r for r in reversed(fake.requests) if r.response is answer), None)
        if pid is not None and recorded is not None:
            with self.lock:
                self.answered_to[id(recorded)] = pid

    def crash(self, client: tuple[str, int]) -> bool:
        """The worker environment that sent this request dies now, at the crash rate: SIGKILL, no cleanup."""
        if self.draw("crash") >= self.config.crash_rate:
            return False
        pid = _owner_of_connection(client, self.fake_port, "WorkerFunction")
        with self.lock:
            if pid is None:
                self.missed_crashes += 1
                return False
            os.kill(pid, signal.SIGKILL)
            self.report.crashes += 1
        return True

    def hook(self, stack: Any, lane_urls: set[str]) -> None:
        """Duplicate some of what the stack's SQS pollers receive from the lanes."""
        import boto3

        from aws_emulator.poller import QueuePoller

        self.lane_urls = lane_urls
        self.sender = boto3.client("sqs")
        clients = {id(p.sqs): p.sqs for p in stack.pollers if isinstance(p, QueuePoller)}
        for client in clients.values():
            client.meta.events.register("before-parameter-build.sqs.ReceiveMessage", self._note_queue)
            client.meta.events.register("after-call.sqs.ReceiveMessage", self._duplicate)

    @staticmethod
    def _note_queue(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["faults_queue"] = params.get("QueueUrl")

    def _duplicate(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """SQS is at-least-once: some received messages are sent again to their lane."""
        url = context.get("faults_queue")
        if url not in self.lane_urls:
            return
        for message in parsed.get("Messages", []):
            with self.lock:
                self.report.deliveries += 1
                self.seen[message["Body"]] += 1
                key = f"{message['Body']}#{self.seen[message['Body']]}"
            again = self.draw("duplicate", key) < self.config.duplicate_rate
            if again:
                attributes = {
                    name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
                    for name, value in message.get("MessageAttributes", {}).items()
                    if "StringValue" in value
                }
                self.sender.send_message(QueueUrl=url, MessageBody=message["Body"], MessageAttributes=attributes)
                with self.lock:
                    self.report.duplicates_sent += 1


def _accept(config: FaultConfig, url: str, report: faults_common.FaultReport, statuses: Counter[str]) -> dict[str, str]:
    """N distinct requests accepted over HTTP at two priorities (both lanes), some asked for again by learners while
    in flight. Returns job_id -> canonical request."""
    from pregen_tools import tokens as dev_tokens

    rng = random.Random(config.seed + 2)
    admin = dev_tokens.mint("faults-ops", "admin")
    accepted: dict[str, str] = {}
    specs = faults_common.job_requests(config)
    wave = min(config.wave, WAVE)
    for start in range(0, len(specs), wave):
        chunk = specs[start : start + wave]
        priority = 50 if (start // wave) % 2 == 0 else 30
        status, body = _http("POST", f"{url}/v1/pregenerate", admin, {"priority": priority, "requests": chunk})
        statuses[f"POST /v1/pregenerate {status}"] += 1
        for spec, result in zip(chunk, body.get("results", []), strict=False):
            if result.get("status") == "queued" and result.get("job_id"):
                accepted[result["job_id"]] = _canonical(spec)
        for i, spec in enumerate(chunk):
            if rng.random() >= config.joins:
                continue
            learner = dev_tokens.mint(f"learner-{start + i}")
            status, body = _http("GET", f"{url}/v1/content?{urllib.parse.urlencode(spec)}", learner)
            statuses[f"GET /v1/content {status}"] += 1
            if status == 202 and body.get("joined"):
                report.joined += 1
            elif status == 202:  # a new job: the key's last job failed for good meanwhile
                accepted[body["job_id"]] = _canonical(spec)
    return accepted


def _drained(sqs: Any, urls: list[str], settle_s: float) -> bool:
    """Wait until nothing is left on the lanes (visible, in flight or delayed) for 3 s; False after ``settle_s``."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    empty_since = None
    reported = time.monotonic()
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        left = 0
        for url in urls:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            left += sum(int(v) for v in attributes.values())
        if left and time.monotonic() - reported > 30:
            reported = time.monotonic()
            print(f"lanes: {left} messages left", file=sys.stderr, flush=True)
        if left:
            empty_since = None
        elif empty_since is None:
            empty_since = time.monotonic()
        elif time.monotonic() - empty_since >= 3:
            return True
        time.sleep(0.5)
    return False


def _collect_until_settled(url: str, job_ids: set[str], settle_s: float) -> bool:
    """--batches: the background lane's jobs wait in open batches after the lanes are empty; ask for the collection
    (as the schedule does) until every job is done or failed, or ``settle_s`` has passed."""
    from pregen.wiring.serve import serve_deps
    from pregen_tools import tokens as dev_tokens

    admin = dev_tokens.mint("faults-ops", "admin")
    jobs = serve_deps().jobs
    deadline = time.monotonic() + settle_s
    left = set(job_ids)
    while left and time.monotonic() < deadline:
        _http("POST", f"{url}/v1/ops/cron/collect_batches", admin)
        time.sleep(COLLECT_EVERY_S)
        for job_id in list(left):
            job = jobs.get_job(job_id)
            if job is not None and job.status.value in ("done", "failed"):
                left.discard(job_id)
        states = Counter(str(getattr(jobs.get_job(j), "status", None)) for j in list(left)[:50])
        print(f"batches: {len(left)} jobs not settled yet ({dict(states)})", file=sys.stderr, flush=True)
    return not left


FORENSICS = os.environ.get("FAULTS_FORENSICS") == "1"


def _forensics(
    report: faults_common.FaultReport, accepted: dict[str, str], jobs: dict[str, Any], fake: Any, platform: Platform
) -> None:
    """FAULTS_FORENSICS=1: the records of lost jobs and of keys generated twice, and the fake's answers for them."""
    from pregen_fakes.fake_anthropic import content_request_from, request_kind

    suspects = {j for j in accepted if any(lost.startswith(j) for lost in report.lost)}
    suspects |= {j for j, canonical in accepted.items() if canonical in set(report.generated_twice)}
    suspects |= {j for j, job in jobs.items() if job is not None and job.key in set(report.stored_twice)}
    for job_id in sorted(suspects):
        job = jobs.get(job_id)
        print("FORENSICS job", json.dumps(job.model_dump(mode="json") if job else None, default=str), file=sys.stderr)
        for recorded in list(fake.requests):
            if recorded.path.split("?", 1)[0].rstrip("/").endswith("/batches") or not recorded.messages:
                continue
            if request_kind(recorded.body) != "content":  # not a generation (the near-duplicate judge's request)
                continue
            canonical = json.dumps(content_request_from(recorded.body).canonical(), sort_keys=True)
            if canonical == accepted[job_id]:
                fields = {
                    "at": recorded.at,
                    "status": recorded.status,
                    "fault": recorded.fault,
                    "calls": len(recorded.messages),
                    "killed": id(recorded) in platform.killed_answers,
                    "outlived": id(recorded) in platform.outlived_answers,
                    # The environment the answer went to, and whether it still ran when the run ended (one that
                    # did not, and was not killed by the bench, was ended by the runtime: its Timeout).
                    "pid": platform.answered_to.get(id(recorded)),
                    "pid_alive_at_end": _alive(platform.answered_to[id(recorded)])
                    if id(recorded) in platform.answered_to
                    else None,
                }
                print("FORENSICS answer", job_id, json.dumps(fields, default=str), file=sys.stderr)


def function_timeout(config: FaultConfig) -> int:
    """The worker's Timeout for the run: the one asked for, a short one for calls that outlive it, or the template's."""
    if config.function_timeout_s is not None:
        return config.function_timeout_s
    return OUTLIVE_FUNCTION_TIMEOUT_S if config.outlive_rate else WORKER_TIMEOUT_S


def retry_visibility(config: FaultConfig) -> int:
    """A failed batch comes back after the lease has ended, and (with calls outliving the timeout) after the
    invocation has been ended at its timeout: as on AWS, where the visibility timeout is 6 x the function's."""
    if config.retry_visibility_s is not None:
        return config.retry_visibility_s
    longest = function_timeout(config) if config.outlive_rate or config.function_timeout_s else 0
    return max(config.lease_s, longest) + VISIBILITY_MARGIN_S


def run_stack(config: FaultConfig) -> faults_common.FaultReport:  # noqa: PLR0915 - one scenario, told in order
    import boto3

    from pregen.adapters.library import DynamoLibraryStore
    from pregen.config.base import load
    from pregen.config.settings import ContentTableSettings
    from pregen_fakes.fake_anthropic import FakeAnthropic

    report = faults_common.FaultReport()
    started = time.perf_counter()
    saved = dict(os.environ)
    follow: Literal["prompt", "schema"] = "schema" if config.follow == "schema" else "prompt"
    fake = FakeAnthropic(faults=replace(config.fault_rates(), hang_s=HANG_S), follow=follow)
    platform = Platform(config, report, fake.port)
    fake.before_answer = platform.crash
    platform.wrap(fake)
    fake.start()
    local = Environment(
        "emulator",
        in_process=True,
        stack_options={
            "visibility_timeout_s": retry_visibility(config),
            "function_timeouts": {"WorkerFunction": function_timeout(config)}
            if config.outlive_rate or config.function_timeout_s
            else {},
            "extra_env": {
                "ANTHROPIC_API_KEY": "fake-key",
                "ANTHROPIC_BASE_URL": fake.base_url,
                "LEASE_SECONDS": str(config.lease_s),
                # Throttled jobs are re-sent with DelaySeconds (30 s, doubling, in AWS); 1 s keeps the run short.
                "THROTTLE_BASE_DELAY_SECONDS": "1",
                # Both lanes generate directly, as the in-process mode does (the template's default sends the
                # background lane to the Message Batches API, whose results the cron polls: not measured here).
                "BATCH_BACKGROUND": "true" if config.batches else "false",
            }
            | ({"POWERTOOLS_LOG_LEVEL": "INFO"} if FORENSICS else {}),
        },
    )
    try:
        state = local.start().state
        stack = local.stack
        queues: dict[str, str] = state["queues"]
        platform.hook(stack, {queues[lane] for lane in LANES})
        time.sleep(1.5)  # receives already waiting (1 s long polls, begun before the hook) end before the first job
        report.phases["start"] = time.perf_counter() - started

        statuses: Counter[str] = Counter()
        accepted = _accept(config, state["url"], report, statuses)
        report.phases["accept"] = time.perf_counter() - started - report.phases["start"]

        # When the pollers and the worker have drained both lanes
        sqs = boto3.client("sqs")
        if not _drained(sqs, [queues[lane] for lane in LANES], config.settle_s):
            print(f"the lanes were not empty after {config.settle_s:.0f} s: what is not done or failed is lost")
        if config.batches and not (
            _collect_until_settled(state["url"], set(accepted), config.settle_s)
            and _drained(sqs, [queues[lane] for lane in LANES], config.settle_s)
        ):
            print(f"batches not settled after {config.settle_s:.0f} s: what is not done or failed is lost")
        report.phases["run"] = time.perf_counter() - started - sum(report.phases.values())

        # Then every job is done or failed with its reason (and dead-lettered); none lost, none generated twice
        from pregen.wiring.serve import serve_deps

        serve = serve_deps()
        now = serve.clock.now()
        in_dlq = faults_common.drain_dead_letters(sqs, [queues[name] for name in DLQS])
        faults_common.classify(report, accepted, serve.jobs, serve.store, in_dlq=in_dlq, now=now)
        library = DynamoLibraryStore(load(ContentTableSettings).content_table)
        keys = {job.key for job in map(serve.jobs.get_job, accepted) if job is not None}
        report.stored_twice = [key for key in keys if len(library.list_versions(key, now)) > 1]
        faults_common.count_answers(report, fake, platform.killed_answers | platform.outlived_answers)
        faults_common.count_outlived(report, fake, platform.outlived_answers)
        faults_common.extra_requests(report, fake, killed=platform.killed_answers, outlived=platform.outlived_answers)
        jobs = {job_id: serve.jobs.get_job(job_id) for job_id in accepted}
        faults_common.account_billed(
            report,
            {accepted[job_id]: job is not None and job.status.value == "done" for job_id, job in jobs.items()},
        )
        if FORENSICS:
            for key in report.stored_twice:
                for version in library.list_versions(key, now):
                    print("FORENSICS version", key, repr(version), file=sys.stderr)
            _forensics(report, accepted, jobs, fake, platform)
        worker = next(pool for pool in stack.pools if pool.spec.logical_id == "WorkerFunction")
        report.environments_lost = worker.figures.environments_lost
        report.invocation_timeouts = worker.figures.timeouts
        report.http = dict(statuses)
        report.server_errors = sum(n for name, n in statuses.items() if name.rsplit(" ", 1)[1].startswith("5"))
        report.missed_crashes = platform.missed_crashes
        report.phases["check"] = time.perf_counter() - started - sum(report.phases.values())
    finally:
        local.stop()
        fake.stop()
        os.environ.clear()
        os.environ.update(saved)
        from pregen import wiring

        wiring.reset()
    report.seconds = time.perf_counter() - started
    return report


def markdown(config: FaultConfig, report: faults_common.FaultReport, command: str) -> str:
    rates = config.fault_rates()
    s = report.summary()
    lines = [
        f"Command: `{command}` (seed {config.seed}; {report.seconds:.0f} s on this machine: "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in report.phases.items())
        + ").",
        "",
        f"Settings of this run: `LEASE_SECONDS={config.lease_s}` (the template's: {LEASE_SECONDS}) through "
        f"`extra_env`, the stack's retry visibility {retry_visibility(config)} s (the queues' visibility timeout on "
        f"AWS: {VISIBILITY_TIMEOUT_S} s), "
        "`THROTTLE_BASE_DELAY_SECONDS=1` (30), "
        + (
            "`BATCH_BACKGROUND=true` (the template's: the background lane through the Message Batches API, "
            f"collected every {COLLECT_EVERY_S:g} s by `POST /v1/ops/cron/collect_batches`; the schedule's: 5 min)"
            if config.batches
            else "`BATCH_BACKGROUND=false` (the template's: true; both lanes generate directly, as in the in-process "
            "mode)"
        )
        + f", the fake's timeouts hold a request {HANG_S:g} s and reset it, the worker's Timeout "
        + f"{function_timeout(config)} s (the template's: {WORKER_TIMEOUT_S} s).",
        "",
        "| injected | rate |",
        "|---|---|",
        *(f"| {name} | {getattr(rates, name):.0%} of model requests |" for name in faults_common.FAULTS),
        f"| duplicate SQS delivery (a received message sent again) | {config.duplicate_rate:.0%} of deliveries |",
        f"| worker crash: SIGKILL of the environment while its model request is open | {config.crash_rate:.0%} of "
        "model requests |",
        f"| worker killed {BILLED_KILL_DELAY_S * 1000:.0f} ms after its answer was sent (billed) | "
        f"{config.billed_kill_rate:.0%} of answered Messages requests |",
        f"| a call that outlives the function timeout: answered only once the runtime has killed the worker at its "
        f"{function_timeout(config)} s Timeout | {config.outlive_rate:.0%} of Messages requests |",
        "",
        "| outcome | count |",
        "|---|---|",
        f"| jobs accepted over HTTP | {s['jobs']} (+{s['joined_requests']} learners' requests joined one in flight) |",
        f"| done (content stored) | {s['done']} |",
        f"| failed, reason recorded | {s['failed']} ({s['failed_with_message_in_dlq']} with the message in the DLQ) |",
        f"| **lost** | **{s['lost']}** ({s['lost_with_message_in_dlq']} with the message in the DLQ) |",
        f"| **generated twice** (valid answers per key > 1) | **{s['generated_twice']}** |",
        f"| stored twice (versions per key > 1) | {s['stored_twice']} |",
        f"| HTTP 5xx | {s['server_errors']} |",
        f"| model requests | {s['model_requests']} ({s['model_calls_per_accepted_job']} per accepted job) |",
        f"| re-asks (a request carrying the last answer's errors) | {s['re_asks_per_1000_jobs']} per 1,000 jobs |",
        f"| most model calls any job made (the cap is {faults_common.load_cap()}) | {s['max_model_calls_of_a_job']} |",
        f"| deliveries / duplicates / crashes | {s['deliveries']} / {s['duplicate_deliveries']} / {s['crashes']} |",
        f"| worker environments lost (the pool's count) / of them ended at the Timeout | {s['environments_lost']} / "
        f"{s['invocation_timeouts']} |",
        f"| workers killed just after a (billed) answer was sent | {s['billed_kills']} |",
        f"| calls that outlived the timeout / their valid answers (billed, never seen by the worker) | "
        f"{s['outlived_timeouts']} / {s['outlived_billed']} |",
        f"| valid answers: to live workers / to killed workers / in batches | {s['valid_answers']['live']} / "
        f"{s['valid_answers']['killed']} / {s['valid_answers']['batch']} |",
        f"| batch requests / batch answers superseded by a direct call (counted as wasted) | {s['batch_requests']} / "
        f"{s['superseded']} |",
        f"| **billed valid answers unaccounted** (neither stored, sent to a killed worker, nor superseded) | "
        f"**{s['unaccounted']}** |",
        "",
        *faults_common.floor_lines(config, report, stack=True),
        "",
        "HTTP answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(s["http"].items())) + ".",
        "",
        "Faults served by the fake: " + ", ".join(f"{k} {v}" for k, v in s["faults_served"].items()) + ".",
        "",
        "Failure reasons: " + (", ".join(f"`{k}` {v}" for k, v in s["failure_reasons"].items()) or "none") + ".",
    ]
    return "\n".join(lines)
