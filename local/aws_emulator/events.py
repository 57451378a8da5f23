"""EventBridge rules to functions: the template's ``EventBridgeRule`` events delivered as EventBridge does, one
asynchronous invocation per matching event, which Lambda retries (MaximumRetryAttempts, after about 1 and 2
minutes) and then hands to the function's on-failure destination.

moto keeps the buses and matches the rules' patterns; each rule's target is a queue of the emulator's, which a
thread drains into the function. The template's buses are created whether or not a rule reads them, so a function
that puts events on one always can."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_emulator.runtime import Invocable
    from aws_emulator.template import EventRule

logger = logging.getLogger(__name__)

RETRY_DELAYS_S = (60.0, 120.0)  # Lambda's asynchronous retries: about a minute, then about two


class RuleDelivery:
    def __init__(
        self,
        events: Any,
        sqs: Any,
        buses: list[str],
        rules: list[EventRule],
        functions: dict[str, Invocable],
        *,
        on_failure: Callable[[str, dict[str, Any]], None] | None = None,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
        prefix: str = "pregen-local",
    ) -> None:
        self.events, self.sqs = events, sqs
        self.buses, self.rules, self.functions = buses, rules, functions
        self.on_failure = on_failure
        self.retry_delays_s = retry_delays_s
        self.prefix = prefix
        self.stopping = threading.Event()
        self.delivered: dict[str, int] = {}

    def start(self) -> None:
        for bus in self.buses:
            with contextlib.suppress(self.events.exceptions.ResourceAlreadyExistsException):
                self.events.create_event_bus(Name=bus)
        for rule in self.rules:
            name = f"{self.prefix}-{rule.function}-{rule.name}"[:64]
            url = self.sqs.create_queue(QueueName=name[:80])["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.events.put_rule(Name=name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern))
            self.events.put_targets(Rule=name, EventBusName=rule.bus, Targets=[{"Id": "emulator", "Arn": arn}])
            threading.Thread(target=self._loop, args=(rule, url), name=f"rule-{rule.name}", daemon=True).start()

    def stop(self) -> None:
        self.stopping.set()

    def _loop(self, rule: EventRule, url: str) -> None:
        while not self.stopping.is_set():
            try:
                messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            except Exception:
                if self.stopping.is_set():
                    return
                logger.exception("rule %s: receive failed", rule.name)
                self.stopping.wait(1.0)
                continue
            for message in messages.get("Messages", []):
                event = json.loads(message["Body"])
                if isinstance(event.get("detail"), str):
                    event["detail"] = json.loads(event["detail"])
                threading.Thread(target=self.deliver, args=(rule, event), daemon=True).start()
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def deliver(self, rule: EventRule, event: dict[str, Any]) -> bool:
        """One asynchronous invocation and its retries; False once given up on (then the on-failure destination)."""
        delays = self.retry_delays_s[: rule.retries]
        for attempt in range(len(delays) + 1):
            if attempt and self.stopping.wait(delays[attempt - 1]):
                return False
            try:
                self.functions[rule.function].invoke(event)
            except Exception:
                logger.warning("rule %s: invocation %d of %s failed", rule.name, attempt + 1, rule.function)
                continue
            self.delivered[rule.name] = self.delivered.get(rule.name, 0) + 1
            return True
        if self.on_failure is not None:
            self.on_failure(rule.function, event)
        return False
