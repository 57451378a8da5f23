"""The analytics function: the day counters and the queues' attributes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.counters import DynamoCounters
from pregen.config.base import load
from pregen.config.functions import AnalyticsSettings
from pregen.domain.clock import SystemClock
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.serve import lanes

if TYPE_CHECKING:
    from pregen.services.analytics import AnalyticsDeps


@once
def analytics_deps() -> AnalyticsDeps:
    from pregen.services.analytics import AnalyticsDeps

    s = load(AnalyticsSettings)
    provider = None
    if s.provider_budget:
        from pregen.adapters.provider_budget import DynamoProviderBudget
        from pregen.services.provider_view import ProviderView

        tiers = {s.model_large: s.tier_large(), s.model_small: s.tier_small()}
        provider = ProviderView(DynamoProviderBudget(s.counters_table, clients.dynamodb()), tiers)
    return AnalyticsDeps(
        counters=DynamoCounters(s.counters_table, clients.dynamodb()),
        queue=lanes(s),
        queue_urls=s.all_queue_urls(s),
        clock=SystemClock(),
        exam_ready_days=s.exam_ready_ttl_days,
        provider=provider,
    )
