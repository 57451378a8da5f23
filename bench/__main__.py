"""``python -m bench NAME [--write] [options]`` runs one scenario; ``python -m bench --list`` lists them."""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.harness.scenario import Scenario

# Each is the module bench.NAME, whose SCENARIO is what ``python -m bench NAME`` runs.
SCENARIOS = (
    "analytics",
    "capacity_check",
    "cold_start",
    "cost",
    "course_arrival",
    "course_floor",
    "courses",
    "cron_answers",
    "dynamodb_local",
    "exam_claims",
    "exams_warm",
    "faults",
    "first_request",
    "hit_path",
    "hit_saturation",
    "hot_keys",
    "joined_miss",
    "library",
    "load",
    "moto_sqs",
    "near_dupes",
    "open_loop",
    "priority",
    "requests",
    "provider_limit",
    "simulate",
    "spend_floors",
    "stampede",
    "throughput",
)


def scenario(name: str) -> Scenario:
    found: Scenario = importlib.import_module(f"bench.{name}").SCENARIO
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("--list", "-h", "--help"):
        width = max(map(len, SCENARIOS))
        print(__doc__.strip() + "\n")
        for name in SCENARIOS:
            first = (scenario(name).doc or "").strip().split("\n")[0]
            print(f"  {name:<{width}}  {first}")
        return 0 if argv else 2
    if argv[0] not in SCENARIOS:
        print(f"no scenario {argv[0]!r}; python -m bench --list names them", file=sys.stderr)
        return 2
    return scenario(argv[0]).main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
