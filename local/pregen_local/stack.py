"""The whole of Pregen on one machine, no Docker: moto server (DynamoDB, SQS, Scheduler, CloudWatch), the
HTTP front, the SQS pollers and the scheduler, all wired from template.yaml.

    python -m pregen_local.stack [--port 3000] [--moto-port 0]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pregen_local import devjwt
from pregen_local.template import ROOT, Resources, Template

if TYPE_CHECKING:
    from pregen_local.logs import LogSubscriptions

STATE_FILE = ROOT / ".local" / "stack.json"


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
    retry_visibility_s: int = 2
    local_concurrency: int = 4
    schedule_scale: float = 1.0
    state_file: Path = STATE_FILE
    # An AWS endpoint already running (e.g. moto_server in its own process, so benchmarks do not share the
    # GIL with it); None starts moto in this process.
    aws_endpoint: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)


class LocalStack:
    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self.stopped = threading.Event()
        self.pollers: list[Any] = []

    def start(self) -> dict[str, Any]:
        import logging

        from pregen_local.moto_server import MotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
        opts = self.options
        self.moto: MotoServer | None = None
        if opts.aws_endpoint:
            endpoint = opts.aws_endpoint
        else:
            self.moto = MotoServer(opts.host, opts.moto_port).start()
            endpoint = self.moto.endpoint
            # moto's backends live in the process, not the server: a stack started earlier here left its state.
            urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10)
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
        import boto3

        template = Template(
            overrides={
                "JwtIssuer": devjwt.ISSUER,
                "JwtAudience": devjwt.AUDIENCE,
                "Environment": "local",
            }
        )
        resources = template.provision(boto3.client("dynamodb"), boto3.client("sqs"))
        os.environ.update(local_environment(template.environment(), opts))
        from pregen import wiring

        wiring.reset()  # a stack started earlier in this process had other endpoints and settings

        from pregen_local.front import Front, serve
        from pregen_local.poller import QueuePoller
        from pregen_local.runtime import LocalFunction
        from pregen_local.scheduler import Scheduler

        functions = {name: LocalFunction(spec) for name, spec in template.functions().items()}
        for fn in functions.values():
            _ = fn.handler  # import every handler now: a broken one fails the stack at start, loudly
        sqs = boto3.client("sqs")
        for source in template.queue_sources():
            poller = QueuePoller(
                sqs,
                queue_url=resources.queue_urls[source.queue],
                queue_arn=resources.queue_arns[source.queue],
                function=functions[source.function],
                batch_size=source.batch_size,
                concurrency=max(1, min(source.max_concurrency, opts.local_concurrency)),
                retry_visibility_s=opts.retry_visibility_s,
            )
            poller.start()
            self.pollers.append(poller)
        from pregen_local.streams import StreamPoller

        streams = boto3.client("dynamodbstreams")
        for stream_source in template.stream_sources():
            stream_poller = StreamPoller(
                streams,
                stream_arn=resources.stream_arns[stream_source.table],
                function=functions[stream_source.function],
                batch_size=stream_source.batch_size,
                filters=stream_source.filters,
            )
            stream_poller.start()
            self.pollers.append(stream_poller)
        self.log_subscriptions = self._log_subscriptions(template, resources, functions, sqs)
        self.scheduler = Scheduler(template.schedules(), functions, scale=opts.schedule_scale)
        self.scheduler.start()
        from pregen_local import dashboard, openapi

        self.front = Front(template.routes(), functions, extra_pages={"/openapi.json": openapi.page})
        self.front.extra_pages.update(dashboard.pages(self.front))
        self.front.extra_pages["/.well-known/jwks.json"] = lambda: (
            200,
            "application/json",
            json.dumps(devjwt.jwks()).encode(),
        )
        self.http = serve(self.front, opts.host, opts.port)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        port = self.http.server_address[1]
        # POST /v1/cron/run checks its caller itself: against the dev issuer's keys (served above), or this secret.
        os.environ["JWT_JWKS_URL"] = f"http://{opts.host}:{port}/.well-known/jwks.json"
        state = {
            "url": f"http://{opts.host}:{port}",
            "aws_endpoint": endpoint,
            "tables": resources.tables,
            "queues": resources.queue_urls,
            "generator": "anthropic" if os.environ.get("ANTHROPIC_API_KEY") else "offline",
            "pid": os.getpid(),
        }
        opts.state_file.parent.mkdir(parents=True, exist_ok=True)
        opts.state_file.write_text(json.dumps(state, indent=2))
        self.state = state
        return state

    @staticmethod
    def _log_subscriptions(
        template: Template, resources: Resources, functions: dict[str, Any], sqs: Any
    ) -> LogSubscriptions:
        """CloudWatch Logs subscriptions (hit lines of get-content to the usage aggregator)."""
        from pregen_local.logs import LogSubscriptions

        def failed_delivery(function: str, event: dict[str, Any]) -> None:
            """Lambda's on-failure destination of an asynchronous invocation: the function's queue, if any."""
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

        subscriptions = LogSubscriptions(template.log_subscriptions(), functions, on_failure=failed_delivery)
        subscriptions.start()
        return subscriptions

    def stop(self) -> None:
        # Inputs first (HTTP, schedules), then the log subscriptions' last delivery, then the pollers, so the
        # stats changes of that delivery still reach the day counters before the stream poller stops.
        self.http.shutdown()
        self.scheduler.stop()
        self.log_subscriptions.stop()
        for poller in self.pollers:
            poller.stop()
        if self.moto is not None:
            self.moto.stop()
        self.stopped.set()


def local_environment(env: dict[str, str], opts: StackOptions) -> dict[str, str]:
    """The functions' environment from the template, with what differs on one machine."""
    env = dict(env)
    env["ANTHROPIC_API_KEY_PARAMETER"] = ""  # locally the key comes from ANTHROPIC_API_KEY, if set
    env["CRON_SECRET_PARAMETER"] = ""  # locally the cron secret comes from CRON_SECRET
    env["CRON_SECRET"] = os.environ.get("CRON_SECRET", "local-cron-secret")
    env["POWERTOOLS_LOG_LEVEL"] = os.environ.get("PREGEN_LOG_LEVEL", "WARNING")
    env.update(opts.extra_env)
    return env


def banner(state: dict[str, Any]) -> str:
    token = devjwt.mint("alice", "student")
    url = state["url"]
    return "\n".join(
        [
            f"Pregen local stack is up at {url}",
            f"  generator: {state['generator']}; AWS services: moto at {state['aws_endpoint']}",
            "",
            "A dev token for learner alice (make one with: .venv/bin/pregen token --sub alice --role student):",
            f"  export TOKEN={token}",
            "",
            "Ask for a lesson (202 + job on the first call, 200 X-Cache: HIT once generated):",
            '  curl -si -H "Authorization: Bearer $TOKEN" \\',
            f"      '{url}/v1/content?kind=lesson&subject=Math&topic=Fractions&grade=5'",
            "Follow the job:",
            f'  curl -s -H "Authorization: Bearer $TOKEN" {url}/v1/jobs/<job_id>',
            "",
            f"Operations: the dashboard at {url}/dashboard; `.venv/bin/pregen stats`, `queue status`, `dlq list`.",
            "",
            "Ctrl-C stops it.",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pregen-local", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PREGEN_PORT", "3000")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("PREGEN_MOTO_PORT", "0")))
    parser.add_argument(
        "--retry-visibility",
        type=int,
        default=2,
        help="seconds before a failed message is delivered again (AWS: the visibility timeout)",
    )
    parser.add_argument("--state-file", type=Path, default=STATE_FILE)
    args = parser.parse_args(argv)
    stack = LocalStack(
        StackOptions(
            host=args.host,
            port=args.port,
            moto_port=args.moto_port,
            retry_visibility_s=args.retry_visibility,
            state_file=args.state_file,
        )
    )
    state = stack.start()
    print(banner(state), flush=True)

    def _stop(*_: object) -> None:
        stack.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stack.stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
