"""The one harness every benchmark runs on: an environment (in-memory, moto, or the local stack), one HTTP
client, one scenario → result type and one report writer; ``python -m bench NAME`` runs a scenario."""

from bench.harness import http
from bench.harness.environment import STACK_MODULE, Environment, free_port, stack_module
from bench.harness.scenario import Option, Result, Scenario, from_args, option

__all__ = [
    "STACK_MODULE",
    "Environment",
    "Option",
    "Result",
    "Scenario",
    "free_port",
    "from_args",
    "http",
    "option",
    "stack_module",
]
