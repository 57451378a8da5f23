"""What the model provider's answers say about its rate limits, passed from the generator to whoever listens (the
worker's token budget, ``pregen.services.provider_budget``). A module of its own, like ``telemetry``, so the
generator's adapter needs to know nothing of the budget, and the budget nothing of the SDK."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from pregen.domain.provider_limits import ProviderAnswer

_listeners: list[Callable[[ProviderAnswer], None]] = []


def listen(listener: Callable[[ProviderAnswer], None]) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def forget(listener: Callable[[ProviderAnswer], None]) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def publish(answer: ProviderAnswer) -> None:
    for listener in list(_listeners):
        listener(answer)
