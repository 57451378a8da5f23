"""The whole of Pregen on one machine, no Docker: the emulator (``aws_emulator.stack``) run on template.yaml
with Pregen's hooks: the JWT authorizer pointed at the emulator's dev issuer, the functions' local environment,
``wiring.reset()`` before they start, the usage lines of in-process functions to the log subscriptions, and the
local pages (OpenAPI, dashboard, the execution environments' figures).

    python -m pregen_tools.local_stack [--port 3000] [--fresh] [--runtime process|inprocess] [--dynamodb local|moto]
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from aws_emulator import devjwt
from aws_emulator.stack import (
    STATE_FILE,
    AppHooks,
    LocalStack,
    StackOptions,
    argument_parser,
    options_from,
    serve_until_stopped,
)
from aws_emulator.template import TEMPLATE
from pregen_tools import tokens

if TYPE_CHECKING:
    from aws_emulator.front import Page

__all__ = ["STATE_FILE", "StackOptions", "build", "hooks", "main"]

PARAMETERS = {"JwtIssuer": devjwt.ISSUER, "JwtAudience": devjwt.AUDIENCE, "Environment": "local"}


def local_environment(env: dict[str, str]) -> dict[str, str]:
    """The functions' environment from the template, with what differs on one machine."""
    env = dict(env)
    env["ANTHROPIC_API_KEY_PARAMETER"] = ""  # locally the key comes from ANTHROPIC_API_KEY, if set
    env["CRON_SECRET_PARAMETER"] = ""  # locally the cron secret comes from CRON_SECRET
    env["CRON_SECRET"] = os.environ.get("CRON_SECRET", "local-cron-secret")
    env["CURSOR_KEY_SECRET"] = ""  # locally the listings' cursors are signed with CURSOR_KEY
    env["CURSOR_KEY"] = os.environ.get("CURSOR_KEY", "local-cursor-key")
    env["POWERTOOLS_LOG_LEVEL"] = os.environ.get("PREGEN_LOG_LEVEL", "WARNING")
    env["WEBHOOK_SECRET"] = ""  # locally the webhook's POSTs are signed with WEBHOOK_KEY
    env["WEBHOOK_KEY"] = os.environ.get("WEBHOOK_KEY", "local-webhook-key")
    env["MODEL_LATENCY"] = os.environ.get("MODEL_LATENCY", "realistic")  # the offline model takes Claude's time
    return env


def _reset_wiring() -> None:
    from pregen import wiring

    wiring.reset()  # a stack started earlier in this process had other endpoints and settings


def _pages(stack: LocalStack) -> dict[str, Page]:
    from pregen_tools import dashboard, openapi

    pages: dict[str, Page] = {"/openapi.json": openapi.page, **dashboard.pages(stack.front)}
    pages["/dashboard/environments"] = stack.environments_page
    return pages


def _state() -> dict[str, Any]:
    return {
        "generator": "anthropic" if os.environ.get("ANTHROPIC_API_KEY") else "offline",
        "model_latency": model_latency(),
    }


def model_latency() -> str:
    """What the functions' model takes (their MODEL_LATENCY; Claude's own time when a key is set): the banner's."""
    from pregen.domain.model_time import ModelLatency

    if os.environ.get("ANTHROPIC_API_KEY"):
        return "the model's own (ANTHROPIC_API_KEY is set)"
    return ModelLatency.parse(os.environ.get("MODEL_LATENCY", "realistic")).describe()


def parameters() -> dict[str, str]:
    """The template's parameters locally; ``WEBHOOK_URL`` (e.g. your app's dev server) turns the webhook on."""
    found = dict(PARAMETERS)
    if os.environ.get("WEBHOOK_URL"):
        found["WebhookUrl"] = os.environ["WEBHOOK_URL"]
    return found


def hooks() -> AppHooks:
    from pregen import usage_log

    return AppHooks(
        template=TEMPLATE,
        parameters=parameters(),
        environment=local_environment,
        before_functions=_reset_wiring,
        log_sink=usage_log.set_sink,
        pages=_pages,
        state=_state,
    )


def build(options: StackOptions) -> LocalStack:
    """Pregen's local stack: the emulator with Pregen's hooks. A batch whose environment died comes back after its
    queue's visibility timeout, as on AWS (the template's is past the worker's lease)."""
    return LocalStack(options, hooks())


def banner(state: dict[str, Any]) -> str:
    token = tokens.mint("alice", "student")
    url = state["url"]
    return "\n".join(
        [
            f"Pregen local stack is up at {url}",
            f"  generator: {state['generator']}; functions: {state['runtime']} runtime; "
            f"DynamoDB: {state['dynamodb']} at {state['dynamodb_endpoint']}; other AWS services: moto at "
            f"{state['aws_endpoint']}",
            f"  model latency: {state['model_latency']} (set MODEL_LATENCY: realistic, instant, scale:F, ...)",
            "",
            "A dev token for learner alice (make one with: .venv/bin/pregen token --sub alice --role student;",
            "add --grade 5 --subject algebra_1 for a learner whose login warms their subjects: POST /v1/warm):",
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
            persistence(state),
            "Ctrl-C stops it.",
        ]
    )


def persistence(state: dict[str, Any]) -> str:
    """Where the data lives between runs, and how to start afresh: a newcomer's second run otherwise surprises."""
    if state.get("data_dir"):
        return (
            f"Data persists between runs in {state['data_dir']}: start with empty tables with "
            "`make run FRESH=1` (or --fresh)."
        )
    return f"Data is kept in memory ({state['dynamodb']}): it is gone when the stack stops."


def main(argv: list[str] | None = None) -> int:
    parser = argument_parser("pregen-local", __doc__, env_prefix="PREGEN_")
    args = parser.parse_args(argv)
    return serve_until_stopped(build(options_from(parser, args)), banner)


if __name__ == "__main__":
    sys.exit(main())
