"""The operators' view of the model provider's shared budget (issue 32, item 5): per model, the budget used this
minute against its size, the calls handed back for the budget (``waits``) and 429s per thousand Messages answers,
read by key from the budget's per-minute items (``pregen.adapters.provider_budget``), never a scan::

    models x (this minute + the HOUR_MINUTES before it) keys ─▶ one BatchGetItem per 100 keys

The size is the configured tier (``LARGE_*`` / ``SMALL_*``): each worker environment's controller may hold its share
below it after 429s, but that lives in the environment's memory, not in the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pregen.domain.provider_limits import WINDOW_S

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pregen.domain.provider_limits import Spend

HOUR_MINUTES = 60  # waits and 429s are summed over this minute and the hour before it


class BudgetReader(Protocol):
    def read(self, model: str, windows: list[int]) -> dict[int, dict[str, float]]:
        """The items of the model's minutes that exist (``DynamoProviderBudget.read``)."""
        ...


@dataclass(frozen=True)
class ProviderView:
    budget: BudgetReader
    tiers: Mapping[str, Spend]  # model → its configured tier per minute


def _per_thousand(part: float, whole: float) -> float | None:
    return round(1000 * part / whole, 2) if whole else None


def provider_figures(view: ProviderView, now: float) -> dict[str, Any]:
    """Per model: ``minute`` (the tokens and requests used by the calls started this minute and settled, against
    the tier, and the share of the output tokens used) and ``lastHour`` (waits, answers, 429s and 429s per
    thousand answers)."""
    current = int(now) // WINDOW_S * WINDOW_S
    windows = [current - i * WINDOW_S for i in range(HOUR_MINUTES + 1)]
    figures: dict[str, Any] = {}
    for model, tier in sorted(view.tiers.items()):
        items = view.budget.read(model, windows)
        this = items.get(current, {})
        answers = sum(item.get("answers", 0.0) for item in items.values())
        throttled = sum(item.get("throttled", 0.0) for item in items.values())
        figures[model] = {
            "minute": {
                "start": current,
                "outputTokens": int(this.get("out", 0)),
                "inputTokens": int(this.get("inp", 0)),
                "requests": int(this.get("req", 0)),
                "outputTokensLimit": tier.output_tokens,
                "requestsLimit": tier.requests,
                "used": round(this.get("out", 0) / tier.output_tokens, 4) if tier.output_tokens else 0.0,
                "waits": int(this.get("waits", 0)),
            },
            "lastHour": {
                "waits": int(sum(item.get("waits", 0.0) for item in items.values())),
                "answers": int(answers),
                "throttled": int(throttled),
                "throttledPerThousand": _per_thousand(throttled, answers),
            },
        }
    return figures
