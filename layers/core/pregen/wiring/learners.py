"""A learner's data (the learners function, and the worker's erasure passes): every table's adapter, by key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.activity import DynamoActivity
from pregen.adapters.batches import DynamoBatchStore
from pregen.adapters.counters import DynamoCounters
from pregen.adapters.erasures import DynamoErasures
from pregen.adapters.exams import DynamoExamInventory
from pregen.adapters.learners import DynamoLearnerData
from pregen.config.base import load
from pregen.config.functions import LearnerDataSettings
from pregen.domain.clock import SystemClock
from pregen.domain.programs import default_catalogue
from pregen.services.activity import ACTIVITY_RETENTION_DAYS
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.serve import lanes

if TYPE_CHECKING:
    from pregen.services.learners import LearnerDataDeps


@once
def learner_data_deps() -> LearnerDataDeps:
    from pregen.services.learners import LearnerDataDeps

    s = load(LearnerDataSettings)
    client = clients.dynamodb()
    counters = DynamoCounters(s.counters_table, client)
    data = DynamoLearnerData(
        content_table=s.content_table,
        jobs_table=s.jobs_table,
        counters_table=s.counters_table,
        exams=DynamoExamInventory(s.exams_table, counters, client),
        activity=DynamoActivity(s.counters_table, client),
        exam_types=list(default_catalogue().exam_types),
        activity_days=ACTIVITY_RETENTION_DAYS,
        client=client,
    )
    return LearnerDataDeps(
        data=data,
        queue=lanes(s),
        clock=SystemClock(),
        second_pass_delay_s=s.erase_second_pass_seconds,
        erasures=DynamoErasures(s.counters_table, client),
        batches=DynamoBatchStore(s.jobs_table, client=client),
    )
