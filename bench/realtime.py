"""What the real-model-time floors (issue 27) read from the local stack after a run: the invocations that timed out
(the stack's ``/dashboard/environments`` figures), the messages in every dead-letter queue, and the machine's load
(the machine is shared: a figure is quoted with the load it was measured under)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from bench.harness import http


@dataclass(frozen=True)
class StackHealth:
    """After a run: invocation timeouts per function (only those with any) and messages per dead-letter queue."""

    timeouts: dict[str, int]
    dead_letters: dict[str, int]

    @property
    def total_timeouts(self) -> int:
        return sum(self.timeouts.values())

    @property
    def total_dead_letters(self) -> int:
        return sum(self.dead_letters.values())

    @property
    def clean(self) -> bool:
        return self.total_timeouts == 0 and self.total_dead_letters == 0

    def rows(self) -> list[str]:
        """Two rows of a Markdown figure table: the timeouts and the dead-lettered messages, with where."""
        timeouts = ", ".join(f"{k} {v}" for k, v in self.timeouts.items()) or "none"
        dead = ", ".join(f"{k} {v}" for k, v in self.dead_letters.items() if v) or f"none in {len(self.dead_letters)}"
        return [
            f"| invocation timeouts (/dashboard/environments) | {self.total_timeouts} ({timeouts}) |",
            f"| messages in dead-letter and failure queues | {self.total_dead_letters} ({dead}) |",
        ]


def invocation_timeouts(url: str) -> dict[str, int]:
    """Per function, its invocations that ran out of time (``Sandbox.Timedout``), from /dashboard/environments."""
    status, figures = http.get(f"{url}/dashboard/environments")
    if status != 200 or not isinstance(figures, dict):
        raise SystemExit(f"/dashboard/environments answered {status}")
    return {name: int(f["timeouts"]) for name, f in figures.items() if int(f["timeouts"])}


def dead_letter_counts(state: dict[str, Any]) -> dict[str, int]:
    """Messages in each dead-letter queue of the stack (visible, in flight or delayed), by logical id."""
    import boto3

    sqs = boto3.client(
        "sqs",
        endpoint_url=state["aws_endpoint"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # the emulator's
    )
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    counts = {}
    for logical_id, url in state["queues"].items():
        if "DeadLetter" in logical_id or "Failure" in logical_id:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            counts[logical_id] = sum(int(v) for v in attributes.values())
    return counts


def stack_health(state: dict[str, Any]) -> StackHealth:
    return StackHealth(invocation_timeouts(state["url"]), dead_letter_counts(state))


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them (2 cores on the reference machine)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min; {os.cpu_count()} cores)"
