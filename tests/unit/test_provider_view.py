"""The operators' view of the provider budget: per model, this minute against the tier and the last hour's waits
and 429s, read by key for exactly this minute and the hour before it."""

from __future__ import annotations

from pregen.domain.provider_limits import Spend
from pregen.services.provider_view import HOUR_MINUTES, ProviderView, provider_figures

NOW = 1_800_000_030.0  # 30 s into a minute
MINUTE = 1_800_000_000


class Reader:
    def __init__(self, items: dict[str, dict[int, dict[str, float]]]) -> None:
        self.items = items
        self.asked: list[tuple[str, list[int]]] = []

    def read(self, model: str, windows: list[int]) -> dict[int, dict[str, float]]:
        self.asked.append((model, windows))
        return {w: v for w, v in self.items.get(model, {}).items() if w in windows}


def test_each_model_shows_this_minute_against_its_tier_and_the_hours_waits_and_429s() -> None:
    # Given a busy small model (this minute and two before it, one outside the hour) and an idle large one
    reader = Reader(
        {
            "small": {
                MINUTE: {"out": 6_000, "inp": 9_000, "req": 3, "waits": 2, "answers": 3},
                MINUTE - 60: {"out": 10_000, "req": 5, "answers": 497, "throttled": 1, "waits": 4},
                MINUTE - 3_600: {"answers": 500, "throttled": 1},
                MINUTE - 3_660: {"answers": 1_000, "throttled": 50},  # 61 minutes ago: not in the hour
            }
        }
    )
    view = ProviderView(reader, {"small": Spend(20_000, 1_000_000, 100), "large": Spend(10_000, 500_000, 50)})
    # When the figures are read
    figures = provider_figures(view, NOW)
    # Then the small model's minute is 30 % used, with the hour's 1,000 answers and two 429s
    assert figures["small"]["minute"] == {
        "start": MINUTE,
        "outputTokens": 6_000,
        "inputTokens": 9_000,
        "requests": 3,
        "outputTokensLimit": 20_000,
        "requestsLimit": 100,
        "used": 0.3,
        "waits": 2,
    }
    assert figures["small"]["lastHour"] == {"waits": 6, "answers": 1_000, "throttled": 2, "throttledPerThousand": 2.0}
    # And a model without answers has no rate (not a zero it did not measure)
    assert figures["large"]["minute"]["outputTokens"] == 0
    assert figures["large"]["lastHour"]["throttledPerThousand"] is None
    # And each model was read by key: this minute and the hour's minutes, nothing else
    assert [model for model, _ in reader.asked] == ["large", "small"]
    assert all(len(windows) == HOUR_MINUTES + 1 and max(windows) == MINUTE for _, windows in reader.asked)
