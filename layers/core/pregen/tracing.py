"""The Tracer singleton (X-Ray SDK). Imported by the worker only: see pregen.observability."""

from __future__ import annotations

from aws_lambda_powertools import Tracer

tracer = Tracer(service="pregen")
