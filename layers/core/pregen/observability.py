"""The observability singletons (Logger, Tracer, Metrics), configured by the POWERTOOLS_* environment variables."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="pregen")
tracer = Tracer(service="pregen")
metrics = Metrics(namespace="Pregen", service="pregen")
