"""Wiring: each function's dependencies, built from its settings once per process (a warm container keeps them).

One small module per function (``serve``, ``worker``, ``exams``, ...), on ``clients`` (one DynamoDB and one SQS
client per process). Every builder is cached with ``once``, so ``reset`` forgets them all for tests that change
the environment. This package imports none of its modules: a function loads only its own wiring (cold start).
"""

from __future__ import annotations

from pregen.wiring.cache import once, reset

__all__ = ["once", "reset"]
