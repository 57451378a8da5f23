"""``once``: a builder's result kept for the life of the process, and ``reset``, which forgets every one of them."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

from pregen.config.base import forget

if TYPE_CHECKING:
    from collections.abc import Callable

R = TypeVar("R")
_built: list[Callable[[], None]] = []  # the cache_clear of every builder made with ``once`` so far


def once(builder: Callable[[], R]) -> Callable[[], R]:
    """Build on first call, then return the same object (what a warm Lambda container keeps between events)."""
    cached = lru_cache(maxsize=1)(builder)
    _built.append(cached.cache_clear)
    return cached


def reset() -> None:
    """For tests that rebuild the environment between cases: forget every built dependency and the settings."""
    forget()
    for clear in _built:
        clear()
