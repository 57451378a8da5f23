"""Operator tools: the ``pregen`` CLI, ops commands (local stack or a deployed one), capacity, the dashboard and the
OpenAPI export. Never shipped to Lambda."""
