"""The notify function's bus client and the webhook function's settings and key, built once per container."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pregen.config.base import load
from pregen.config.functions import NotifySettings, WebhookSettings
from pregen.wiring.cache import once
from pregen.wiring.secrets import read_secret

if TYPE_CHECKING:
    from collections.abc import Callable


@once
def event_bus() -> tuple[str, Callable[..., Any]]:
    """The bus's name and a ``put_events`` to it."""
    import boto3

    return load(NotifySettings).event_bus_name, boto3.client("events").put_events


def publish(records: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """The events the stream ``records`` mean, put on the bus: (how many there were, the sequence numbers of those
    the bus refused)."""
    from pregen.adapters.event_bus import notifications_of, put_on_bus

    found = notifications_of(records)
    bus, put_events = event_bus()
    return len(found), put_on_bus(found, bus, put_events)


@once
def webhook() -> tuple[WebhookSettings, bytes]:
    settings = load(WebhookSettings)
    if settings.webhook_key:
        return settings, settings.webhook_key.encode()
    return settings, read_secret(str(settings.webhook_secret), "webhook key")
