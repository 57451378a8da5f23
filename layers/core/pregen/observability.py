"""The observability singletons, configured by the POWERTOOLS_* environment variables.

Logger and Metrics are cheap to import. The Tracer lives in ``pregen.tracing`` because it loads the X-Ray SDK
(hundreds of milliseconds of cold start): only the worker, where a trace of the model call pays for itself,
imports it. The API functions still get Lambda's own X-Ray segments from ``Tracing: Active``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="pregen")
metrics = Metrics(namespace="Pregen", service="pregen")
