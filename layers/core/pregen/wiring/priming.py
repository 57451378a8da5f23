"""Priming: in a Lambda execution environment's init phase, build what its invocations use and make one read.

Without it an environment's first invocation pays for its dependencies: the settings parsed, the DynamoDB and SQS
clients made (botocore loads each service's model and endpoint rules), the first request's connection opened and
its operation's serializer built -- CPU inside the first learner's request (measured: docs/BENCHMARKS.md, Cold start).
Init is where Lambda expects that work: provisioned concurrency runs it before any request arrives, and SnapStart
keeps it in the snapshot (``pregen.wiring.snapstart`` then forgets the clients and their connections, not the
loaded models).

Priming happens only inside Lambda's runtime, which sets ``AWS_LAMBDA_INITIALIZATION_TYPE`` (the local stack's
environments set it too): a test or script that imports a handler builds nothing until it calls it. A failure is
logged and left to the first invocation, which builds again and meets it there: init must not die because a
table is slow to answer.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pregen.observability import logger

if TYPE_CHECKING:
    from collections.abc import Callable

# A key no content has (cache keys start with their version, "v1-"): the priming read finds nothing.
PRIMING_KEY = "priming-read"


def in_init() -> bool:
    """True in a Lambda execution environment (on-demand, provisioned-concurrency or snap-start)."""
    return bool(os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"))


def prime(*steps: Callable[[], object]) -> bool:
    """Run ``steps`` in order during init; False (nothing raised) when not in Lambda or a step failed."""
    if not in_init():
        return False
    for step in steps:
        try:
            step()
        except Exception:  # any failure: the first invocation builds again and meets it
            logger.warning("priming failed: the first invocation builds what is missing", exc_info=True)
            return False
    return True
