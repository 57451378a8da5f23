"""Cost of a generation from all four token kinds, priced from a table kept as data (data/prices.json)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pregen.domain.models import TokenUsage

_PER_MILLION = 1_000_000


@dataclass(frozen=True)
class ModelPrice:
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True)
class PriceTable:
    models: dict[str, ModelPrice]
    batch_discount: float

    def price(self, model: str) -> ModelPrice:
        if model in self.models:
            return self.models[model]
        # A dated snapshot (claude-x-y-20250101) is priced as its family: the longest name it extends by "-<date>".
        family = [name for name in self.models if model.startswith(name + "-") and model[len(name) + 1 :].isdigit()]
        if family:
            return self.models[max(family, key=len)]
        raise KeyError(f"no price for model {model!r}; add it to data/prices.json")

    def cost(self, model: str, usage: TokenUsage, *, cache_write_1h_tokens: int = 0, batch: bool = False) -> float:
        """US dollars. ``input_tokens`` excludes cached tokens, so every kind is priced separately and added.

        ``cache_write_1h_tokens`` is the part of ``cache_creation_input_tokens`` written with the 1-hour TTL.
        """
        p = self.price(model)
        write_5m = usage.cache_creation_input_tokens - cache_write_1h_tokens
        dollars = (
            usage.input_tokens * p.input
            + usage.output_tokens * p.output
            + write_5m * p.cache_write_5m
            + cache_write_1h_tokens * p.cache_write_1h
            + usage.cache_read_input_tokens * p.cache_read
        ) / _PER_MILLION
        return dollars * (self.batch_discount if batch else 1.0)


@lru_cache(maxsize=1)
def default_prices() -> PriceTable:
    data = json.loads(resources.files("pregen").joinpath("data/prices.json").read_text())
    return PriceTable(
        models={name: ModelPrice(**figures) for name, figures in data["models"].items()},
        batch_discount=float(data["batch_discount"]),
    )
