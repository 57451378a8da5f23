"""The observability singletons, configured by the POWERTOOLS_* environment variables.

Logger and Metrics are cheap to import. There is no Tracer: it loads the X-Ray SDK (cold start) and no function
used it; every function gets Lambda's own X-Ray segments from ``Tracing: Active``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="pregen")
metrics = Metrics(namespace="Pregen", service="pregen")
