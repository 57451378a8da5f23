"""The exams function (claim, inventory, read) and the cron's top-up: the inventory's ports and its policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.activity import DynamoActivity
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.exams import DynamoExamInventory
from pregen.config.base import load
from pregen.config.functions import ExamSettings
from pregen.domain.clock import SystemClock
from pregen.domain.programs import default_catalogue
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.serve import generation_limiter, lanes

if TYPE_CHECKING:
    from pregen.adapters.runs import DynamoRunState
    from pregen.services.exams import ExamDeps


@once
def exam_deps() -> ExamDeps:
    from pregen.services.exams import ExamDeps

    s = load(ExamSettings)
    client = clients.dynamodb()
    counters = DynamoCounters(s.counters_table, client)
    return ExamDeps(
        inventory=DynamoExamInventory(s.exams_table, counters, client),
        activity=DynamoActivity(s.counters_table, client),
        counters=counters,
        limiter=generation_limiter(s.counters_table, s),
        queue=lanes(s),
        clock=SystemClock(),
        catalogue=default_catalogue(),
        policy=s,
    )


@once
def run_state() -> DynamoRunState:
    """The cron's resumable top-up state, in the exams table."""
    from pregen.adapters.runs import DynamoRunState

    return DynamoRunState(load(ExamSettings).exams_table, clients.dynamodb())
