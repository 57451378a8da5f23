"""A SAM application on one machine, no Docker, wired from its template: DynamoDB Local (Amazon's engine, its
data kept under .local/) and moto server (SQS, Scheduler, Logs, CloudWatch, SSM), each in its own process; every
function in execution environments of its own (aws_emulator.environments: one process per environment, one event
at a time); the HTTP front (waitress), the SQS and stream pollers, the log subscriptions and the scheduler.

What the app adds (parameter overrides, its functions' environment, pages, a log sink...) comes in ``AppHooks``;
``argument_parser``, ``options_from`` and ``serve_until_stopped`` make an app's own ``main`` a few lines.

    python -m aws_emulator.stack --template path/to/template.yaml [--parameter Name=Value] [--port 3000] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aws_emulator import devjwt
from aws_emulator.console import say
from aws_emulator.template import ROOT, TEMPLATE, Resources, Template, load_template

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_emulator.front import Front, Page
    from aws_emulator.logs import LogSubscriptions, SinkInstaller

STATE_FILE = ROOT / ".local" / "stack.json"
# Concurrency of a function no queue and no reservation limits (API functions scale with requests on AWS; here
# each environment is a process on a shared machine).
DEFAULT_CONCURRENCY = 8


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    port: int = 3000
    moto_port: int = 0
    # The event source queues' VisibilityTimeout (None: the template's). A record the function fails without
    # setting its own visibility, and a batch whose invocation died, come back after it, as on AWS.
    visibility_timeout_s: int | None = None
    local_concurrency: int = 4
    schedule_scale: float = 1.0
    state_file: Path = STATE_FILE
    # An AWS endpoint already running (e.g. moto_server in its own process, so benchmarks do not share the
    # GIL with it); None starts moto in this process.
    aws_endpoint: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    # A function's Timeout over the template's (logical id -> seconds): the runtime kills an environment whose
    # invocation runs past it, as Lambda does (a fault run uses a short one so that its timeouts come in minutes).
    function_timeouts: dict[str, int] = field(default_factory=dict)
    # "process": each function in a pool of execution environments (processes); "inprocess": every function in
    # this process (API invocations then take turns: Powertools keeps the current event on a class attribute).
    runtime: str = "process"
    # "local": DynamoDB Local (moto when Java is missing); "moto": moto's model of DynamoDB.
    dynamodb: str = "local"
    # Where DynamoDB Local keeps its data between runs; None keeps it in memory.
    data_dir: Path | None = None
    default_concurrency: int = DEFAULT_CONCURRENCY
    # Execution environments started with the stack, per function (its first requests then find one warm).
    warm: int = 1
    # Provisioned concurrency's analogue: environments started with the stack for the functions named (logical id
    # -> count, capped at the function's limit), so a burst finds them initialised instead of cold.
    provisioned: dict[str, int] = field(default_factory=dict)
    # An environment idle this long is retired (Lambda's are, after minutes); None keeps every one.
    idle_seconds: float | None = 600.0
    # The CPU priority (niceness) of the environments of functions no API route invokes (the worker, the usage
    # aggregator): on Lambda each environment has a CPU of its own, so a backlog's generation never takes CPU from a
    # learner's request; here they share the machine's cores, and the kernel is told which to serve first.
    background_nice: int = 10
    # Warm DynamoDB Local's engine before serving (a fresh JVM's first requests of each kind are slow).
    warm_engine: bool = True
    # REPORT lines (one per invocation, as Lambda logs them) on stdout.
    report: bool = True
    # An access log line per HTTP request on stdout: method, path, status, milliseconds.
    access_log: bool = True


@dataclass
class AppHooks:
    """What the app run on the emulator adds to it; the emulator itself knows nothing of the app."""

    template: Path = TEMPLATE
    # Template parameters set for the local run (e.g. the JWT authorizer's issuer: ``devjwt.ISSUER``).
    parameters: dict[str, str] = field(default_factory=dict)
    # The functions' environment (the template's, resolved) -> the environment they run with locally.
    environment: Callable[[dict[str, str]], dict[str, str]] | None = None
    # Run in this process once the environment is set, before the functions start (e.g. drop cached clients).
    before_functions: Callable[[], None] | None = None
    # How functions run in this process hand their log lines to the log subscriptions (``logs.SinkInstaller``).
    log_sink: SinkInstaller | None = None
    # Extra HTTP pages on the front (path -> page), given the stack (its front, its pools) once it is built.
    pages: Callable[[LocalStack], dict[str, Page]] | None = None
    # Extra entries of the state file (e.g. which model the functions call).
    state: Callable[[], dict[str, Any]] | None = None


class LocalStack:
    def __init__(self, options: StackOptions, hooks: AppHooks | None = None) -> None:
        self.options = options
        self.hooks = hooks or AppHooks()
        self.stopped = threading.Event()
        self.pollers: list[Any] = []

    def start(self) -> dict[str, Any]:
        opts = self.options
        self.processes: list[subprocess.Popen[bytes]] = []
        self.dynamodb_local: Any = None
        self.engine_warm_up: threading.Thread | None = None
        self.pools: list[Any] = []
        self.log_subscriptions: LogSubscriptions | None = None
        self.event_delivery: Any = None
        endpoint = opts.aws_endpoint or self._start_moto()
        dynamodb_endpoint = self._start_dynamodb() if opts.dynamodb == "local" else None
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
            }
        )
        for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
            if dynamodb_endpoint:
                os.environ[name] = dynamodb_endpoint  # boto3's endpoint per service
            else:
                os.environ.pop(name, None)
        import boto3

        hooks = self.hooks
        template = Template(load_template(hooks.template), overrides=hooks.parameters, base=hooks.template.parent)
        resources = self._provision(template)
        os.environ.update(self._function_environment(template))
        if hooks.before_functions is not None:
            hooks.before_functions()

        from aws_emulator.front import serve
        from aws_emulator.poller import QueuePoller
        from aws_emulator.scheduler import Scheduler

        # The front's socket first: a function may check its caller against the dev issuer's keys served there,
        # and the environments started below take their environment (JWT_JWKS_URL) from this process.
        port = opts.port or free_port(opts.host)
        os.environ["JWT_JWKS_URL"] = f"http://{opts.host}:{port}/.well-known/jwks.json"
        functions = self._functions(template)
        sqs = boto3.client("sqs")
        for source in template.queue_sources():
            poller = QueuePoller(
                sqs,
                queue_url=resources.queue_urls[source.queue],
                queue_arn=resources.queue_arns[source.queue],
                function=functions[source.function],
                batch_size=source.batch_size,
                concurrency=_lane_concurrency(source, opts),
            )
            poller.start()
            self.pollers.append(poller)
        from aws_emulator.streams import StreamPoller

        streams = boto3.client("dynamodbstreams")
        for stream_source in template.stream_sources():
            stream_poller = StreamPoller(
                streams,
                stream_arn=resources.stream_arns[stream_source.table],
                function=functions[stream_source.function],
                batch_size=stream_source.batch_size,
                filters=stream_source.filters,
                checkpoint=opts.data_dir / "stream-positions.json" if opts.data_dir and dynamodb_endpoint else None,
            )
            stream_poller.start()
            self.pollers.append(stream_poller)
        self.log_subscriptions = self._log_subscriptions(template, resources, functions, sqs)
        self.scheduler = Scheduler(template.schedules(), functions, scale=opts.schedule_scale)
        self.scheduler.start()
        if opts.idle_seconds is not None and self.pools:
            threading.Thread(target=self._retire_idle, args=(opts.idle_seconds,), name="retire", daemon=True).start()
        self.front = self._front(template, functions)
        if self.engine_warm_up is not None:
            self.engine_warm_up.join()  # before the first request: the deployment's DynamoDB has no first minutes
        self.http = serve(self.front, opts.host, port, access_log=say if opts.access_log else None)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        state = {
            "url": f"http://{opts.host}:{port}",
            "aws_endpoint": endpoint,
            "dynamodb_endpoint": dynamodb_endpoint or endpoint,
            "dynamodb": "DynamoDB Local" if dynamodb_endpoint else "moto",
            # where the tables persist between runs (None: in memory, gone at stop)
            "data_dir": str(opts.data_dir) if dynamodb_endpoint and opts.data_dir else None,
            "runtime": opts.runtime,
            "tables": resources.tables,
            "queues": resources.queue_urls,
            "pid": os.getpid(),
            **(hooks.state() if hooks.state is not None else {}),
        }
        opts.state_file.parent.mkdir(parents=True, exist_ok=True)
        opts.state_file.write_text(json.dumps(state, indent=2))
        self.state = state
        return state

    def _function_environment(self, template: Template) -> dict[str, str]:
        """The functions' environment: the template's, then the app's changes, then ``extra_env``."""
        environment = template.environment()
        if self.hooks.environment is not None:
            environment = self.hooks.environment(environment)
        return {**environment, **self.options.extra_env}

    def _on_failure(self, template: Template, resources: Resources, sqs: Any) -> Callable[[str, dict[str, Any]], None]:
        """Lambda's on-failure destination of an asynchronous invocation: the function's queue, if any."""

        def failed_delivery(function: str, event: dict[str, Any]) -> None:
            queue = template.on_failure_queue(function)
            if queue is not None:
                record = {  # the shape of Lambda's on-failure invocation record
                    "version": "1.0",
                    "requestContext": {
                        "functionArn": function,
                        "condition": "RetriesExhausted",
                        "approximateInvokeCount": 3,
                    },
                    "requestPayload": event,
                }
                sqs.send_message(QueueUrl=resources.queue_urls[queue], MessageBody=json.dumps(record))

        return failed_delivery

    def _log_subscriptions(
        self, template: Template, resources: Resources, functions: dict[str, Any], sqs: Any
    ) -> LogSubscriptions:
        """CloudWatch Logs subscriptions (hit lines of get-content to the usage aggregator)."""
        from aws_emulator.logs import LogSubscriptions

        subscriptions = LogSubscriptions(
            template.log_subscriptions(),
            functions,
            on_failure=self._on_failure(template, resources, sqs),
            install_sink=self.hooks.log_sink,
        )
        subscriptions.start()
        self.event_delivery = self._event_rules(template, resources, functions, sqs)  # asynchronous too
        return subscriptions

    def _event_rules(self, template: Template, resources: Resources, functions: dict[str, Any], sqs: Any) -> Any:
        """The template's buses, and its EventBridgeRule events delivered to their functions."""
        import boto3

        from aws_emulator.events import RuleDelivery

        delivery = RuleDelivery(
            boto3.client("events"),
            sqs,
            template.event_buses(),
            template.event_rules(),
            functions,
            on_failure=self._on_failure(template, resources, sqs),
        )
        delivery.start()
        return delivery

    def _start_moto(self) -> str:
        """moto server in a process of its own (SQS, Scheduler, Logs, CloudWatch, SSM; DynamoDB without Java)."""
        port = self.options.moto_port or free_port(self.options.host)
        process = subprocess.Popen(
            [sys.executable, "-m", "aws_emulator.moto_server", "--host", self.options.host, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_child_environment(),
        )
        self.processes.append(process)
        _wait_for_port(self.options.host, port, process, "moto server")
        return f"http://{self.options.host}:{port}"

    def _start_dynamodb(self) -> str | None:
        """DynamoDB Local's endpoint, or None (with one line saying why) when it cannot run here: moto then."""
        from aws_emulator import dynamodb_local

        opts = self.options
        try:
            self.dynamodb_local = dynamodb_local.start(opts.host, db_path=opts.data_dir)
        except dynamodb_local.Unavailable as exc:
            print(f"DynamoDB Local unavailable ({exc}): DynamoDB is moto's model instead", flush=True)
            return None
        endpoint: str = self.dynamodb_local.endpoint
        if opts.warm_engine:
            self.engine_warm_up = self._warm_up_dynamodb()
        return endpoint

    def _front(self, template: Template, functions: dict[str, Any]) -> Front:
        """API Gateway's routes to the functions, with the dev issuer's keys and the app's pages."""
        from aws_emulator.front import Front

        self.front = Front(template.routes(), functions)
        self.front.extra_pages["/.well-known/jwks.json"] = lambda: (
            200,
            "application/json",
            json.dumps(devjwt.jwks()).encode(),
        )
        if self.hooks.pages is not None:
            self.front.extra_pages.update(self.hooks.pages(self))
        return self.front

    def _warm_up_dynamodb(self) -> threading.Thread:
        """DynamoDB Local's warm-up (``dynamodb_local.warm_up``), side by side with the environments' start."""
        from aws_emulator import dynamodb_local

        engine = self.dynamodb_local

        def warm_up() -> None:
            try:
                dynamodb_local.warm_up(engine.host, engine.port)
            except dynamodb_local.Unavailable as exc:  # the stack still serves; its first requests are slower
                print(f"DynamoDB Local's warm-up failed: {exc}", flush=True)

        thread = threading.Thread(target=warm_up, name="engine-warm-up", daemon=True)
        thread.start()
        return thread

    def _functions(self, template: Template) -> dict[str, Any]:
        opts = self.options
        specs = {
            name: replace(spec, timeout=opts.function_timeouts.get(name, spec.timeout))
            for name, spec in template.functions().items()
        }
        if opts.runtime == "inprocess":
            from aws_emulator.runtime import LocalFunction

            turn = threading.RLock()
            functions = {name: LocalFunction(spec, turn) for name, spec in specs.items()}
            for fn in functions.values():
                _ = fn.handler  # import every handler now: a broken one fails the stack at start, loudly
            return functions
        from aws_emulator.environments import FunctionPool

        limits = dict.fromkeys(specs, opts.default_concurrency)
        lanes: dict[str, int] = {}
        for source in template.queue_sources():  # the lanes' MaximumConcurrency (capped locally)
            lanes[source.function] = lanes.get(source.function, 0) + _lane_concurrency(source, opts)
        routed = {route.function for route in template.routes()}
        for name, lane_limit in lanes.items():  # an ESM's cap is its own: a routed function's requests come on top
            limits[name] = lane_limit + (opts.default_concurrency if name in routed else 0)
        limits.update(template.reserved_concurrency())  # a reservation caps the function, whatever feeds it
        report = say if opts.report else None
        pools = {
            name: FunctionPool(
                spec,
                limits[name],
                log_sink=self._log_line,
                report=report,
                idle_seconds=opts.idle_seconds,
                keep=max(opts.warm, opts.provisioned.get(name, 0)),
                nice=0 if name in routed else opts.background_nice,
            )
            for name, spec in specs.items()
        }
        self.pools = list(pools.values())
        # Every function's first environment now, side by side: a broken handler fails the stack at start.
        unknown = sorted(set(opts.provisioned) - set(pools))
        if unknown:
            raise ValueError(f"no such function to provision: {', '.join(unknown)}")
        starting = [
            threading.Thread(target=pool.warm, args=(max(opts.warm, opts.provisioned.get(name, 0)),), daemon=True)
            for name, pool in pools.items()
        ]
        for thread in starting:
            thread.start()
        for thread in starting:
            thread.join()
        broken = [pool.spec.logical_id for pool in self.pools if opts.warm and pool.size == 0]
        if broken:
            raise RuntimeError(f"these functions did not start: {', '.join(broken)} (their log is above)")
        return pools

    def _log_line(self, function: str, line: str) -> None:
        """What an execution environment printed: the function's log (and its log subscriptions' input)."""
        if self.log_subscriptions is not None:
            self.log_subscriptions.route(function, line)
        else:
            say(f"[{function}] {line}")

    def _retire_idle(self, idle_seconds: float) -> None:
        while not self.stopped.wait(min(30.0, idle_seconds / 4)):
            for pool in self.pools:
                pool.retire_idle()

    def _provision(self, template: Template) -> Resources:
        """The template's tables and queues; the event sources' queues with ``visibility_timeout_s`` if set."""
        import boto3

        resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"))
        if self.options.visibility_timeout_s is not None:
            set_visibility_timeout(
                boto3.client("sqs"),
                [resources.queue_urls[q.queue] for q in template.queue_sources()],
                self.options.visibility_timeout_s,
            )
        return resources

    def environments_page(self) -> tuple[int, str, bytes]:
        """The execution environments' figures (``environment_figures``) as a JSON page."""
        return 200, "application/json", json.dumps(environment_figures(self.pools)).encode()

    def stop(self) -> None:
        # Inputs first (HTTP, schedules), then the log subscriptions' last delivery, then the pollers, so the
        # stats changes of that delivery still reach the day counters before the stream poller stops; the
        # execution environments and the services last. A stack interrupted while starting stops what it started.
        if getattr(self, "http", None) is not None:
            self.http.shutdown()
        if getattr(self, "scheduler", None) is not None:
            self.scheduler.stop()
        if getattr(self, "event_delivery", None) is not None:
            self.event_delivery.stop()
        subscriptions: LogSubscriptions | None = getattr(self, "log_subscriptions", None)
        if subscriptions is not None:
            subscriptions.stop()
        for poller in self.pollers:
            poller.stop()
        for pool in getattr(self, "pools", []):
            pool.stop()
        if getattr(self, "dynamodb_local", None) is not None:
            self.dynamodb_local.stop()
        for process in getattr(self, "processes", []):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.stopped.set()


def set_visibility_timeout(sqs: Any, queue_urls: list[str], seconds: int) -> None:
    """The queues' VisibilityTimeout, over the template's (``--visibility-timeout``)."""
    for url in queue_urls:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})


def environment_figures(pools: list[Any]) -> dict[str, Any]:
    """Per function: its execution environments and what their invocations took (the dashboard's table)."""

    def percentile(values: list[float], q: float) -> float | None:
        ordered = sorted(values)
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else None

    figures = {}
    for pool in pools:
        f = pool.figures
        durations, inits = list(f.duration_ms), list(f.init_ms)
        figures[pool.spec.logical_id] = {
            "environments": pool.size,
            "limit": pool.limit,
            "invocations": f.invocations,
            "coldStarts": f.cold_starts,
            "errors": f.errors,
            "timeouts": f.timeouts,
            "environmentsLost": f.environments_lost,
            "retired": f.retired,
            "initMsP50": percentile(inits, 0.5),
            "durationMsP50": percentile(durations, 0.5),
            "durationMsP99": percentile(durations, 0.99),
        }
    return figures


def _lane_concurrency(source: Any, opts: StackOptions) -> int:
    return max(1, min(int(source.max_concurrency), opts.local_concurrency))


def _child_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "local"), str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], name: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not listen on {host}:{port} within {timeout_s:.0f} s")


def argument_parser(prog: str, description: str | None, env_prefix: str = "EMULATOR_") -> argparse.ArgumentParser:
    """The stack's command line; each flag's default may come from ``<env_prefix><NAME>`` (e.g. EMULATOR_PORT)."""

    def env(name: str, default: str) -> str:
        return os.environ.get(env_prefix + name, default)

    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env("PORT", "3000")))
    parser.add_argument("--moto-port", type=int, default=int(env("MOTO_PORT", "0")))
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=None,
        metavar="SECONDS",
        help="the event source queues' VisibilityTimeout (default: the template's); a function that sets a failed "
        "record's visibility (ChangeMessageVisibility) still decides when that record comes back",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for every function, over the template's",
    )
    parser.add_argument("--state-file", type=Path, default=STATE_FILE)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where DynamoDB Local keeps its data between runs (default: dynamodb-data beside the state file)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        default=env("FRESH", "") not in {"", "0"},
        help=f"start with empty tables ({env_prefix}FRESH=1)",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=env("ACCESS_LOG", "1") != "0",
        help=f"a line per HTTP request: method, path, status, ms ({env_prefix}ACCESS_LOG=0: none)",
    )
    parser.add_argument("--runtime", choices=["process", "inprocess"], default=env("RUNTIME", "process"))
    parser.add_argument("--dynamodb", choices=["local", "moto"], default=env("DYNAMODB", "local"))
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="execution environments per function that no queue or reservation limits",
    )
    parser.add_argument(
        "--provisioned",
        action="append",
        default=[],
        metavar="FUNCTION=N",
        help="start N environments of FUNCTION (a logical id) with the stack, as provisioned concurrency would",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=600.0,
        help="retire an execution environment idle this long, as Lambda does (0: never)",
    )
    parser.add_argument(
        "--background-nice",
        type=int,
        default=10,
        help="CPU priority (niceness) of the environments no API route invokes (queue, stream, log consumers); "
        "0: as the API's",
    )
    return parser


def options_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> StackOptions:
    """The options ``argument_parser``'s flags ask for (``--fresh`` empties the data directory now)."""
    try:
        provisioned = {name: int(count) for name, _, count in (item.partition("=") for item in args.provisioned)}
    except ValueError:
        parser.error("--provisioned takes FUNCTION=N, e.g. GetContentFunction=8")
    if any("=" not in item for item in args.env):
        parser.error("--env takes NAME=VALUE")
    data_dir: Path = args.data_dir or args.state_file.parent / "dynamodb-data"
    if args.fresh:
        shutil.rmtree(data_dir, ignore_errors=True)
    return StackOptions(
        host=args.host,
        port=args.port,
        moto_port=args.moto_port,
        visibility_timeout_s=args.visibility_timeout,
        extra_env=dict(item.split("=", 1) for item in args.env),
        state_file=args.state_file,
        runtime=args.runtime,
        dynamodb=args.dynamodb,
        data_dir=data_dir,
        default_concurrency=args.concurrency,
        provisioned=provisioned,
        idle_seconds=args.idle_seconds or None,
        background_nice=args.background_nice,
        access_log=args.access_log,
    )


def serve_until_stopped(stack: LocalStack, banner: Callable[[dict[str, Any]], str] | None = None) -> int:
    """Start the stack, print the banner, serve until SIGTERM or SIGINT; stop quietly (one line, no traceback),
    also when interrupted while starting. A second Ctrl-C while stopping changes nothing."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        state = stack.start()
    except KeyboardInterrupt:
        say("Interrupted while starting: stopping what had started.")
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        return 130
    say(banner(state) if banner is not None else f"The local stack is up at {state['url']}")
    sys.stdout.flush()
    stopping = threading.Event()

    def _stop(*_: object) -> None:
        if stopping.is_set():
            return
        stopping.set()
        say("Stopping the local stack...")
        stack.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stack.stopped.wait()
    say("Stopped.")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Any SAM app's template, as is: ``--parameter Name=Value`` overrides its parameters."""
    parser = argument_parser("aws-emulator", __doc__)
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    parameters = dict(item.partition("=")[::2] for item in args.parameter)
    return serve_until_stopped(LocalStack(options_from(parser, args), AppHooks(args.template, parameters)))


if __name__ == "__main__":
    sys.exit(main())
