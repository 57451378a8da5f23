"""Lambda SnapStart: what the execution environments restored from one snapshot must not share.

A snapshot is taken once after init and resumed by many environments. Each of them must then draw its own random
numbers (``random`` picks which ready exam a claim tries first, and the jitter of conflict retries), and must not
reuse the snapshot's network connections or anything built on them: the boto3 clients and the dependencies that
hold them are forgotten, and built again on the first request (clients and a connection, not the imports SnapStart
saves; docs/BENCHMARKS.md has both). Unique ids come from ``uuid4`` (``os.urandom``), which a restore does not repeat.

The runtime ships ``snapshot_restore_py``; elsewhere (local runs, tests) registering is a no-op.
"""

from __future__ import annotations

import random

from pregen.wiring.cache import reset


def after_restore() -> None:
    random.seed()
    reset()


def register() -> bool:
    """Register the hook with the runtime; False where there is no SnapStart runtime to register with."""
    try:
        from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True
