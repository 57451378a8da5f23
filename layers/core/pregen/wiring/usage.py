"""The usage aggregator: the day counters (from the content table's stream) and the hit counter (from the log)."""

from __future__ import annotations

from typing import Any

from pregen.adapters.counters import DynamoCounters, DynamoHitCounter
from pregen.adapters.stats_stream import read_stats_stream
from pregen.config.base import load
from pregen.config.functions import UsageSettings
from pregen.domain.clock import SystemClock
from pregen.services.usage import aggregate
from pregen.wiring import clients
from pregen.wiring.cache import once


@once
def usage_deps() -> tuple[DynamoCounters, SystemClock]:
    """The stream's side needs only the counters table."""
    return DynamoCounters(load(UsageSettings).counters_table, clients.dynamodb()), SystemClock()


@once
def hit_counter() -> DynamoHitCounter:
    """The log's side: hit lines from get-content's log, added to the keys' stats items."""
    s = load(UsageSettings)
    return DynamoHitCounter(s.content_table, s.counters_table, clients.dynamodb())


def aggregate_stream(records: list[dict[str, Any]]) -> dict[str, dict[str, int | float]]:
    """A batch of the content table's stream, read by its adapter and added to the day counters by the service;
    returns the day counters the batch held."""
    counters, clock = usage_deps()
    return aggregate(read_stats_stream(records), counters, clock.now())
