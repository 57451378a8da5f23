"""The courses function (ask, read, list, retry): the course store, lanes, limiter and the idempotency store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pregen.adapters.counters import DynamoCounters
from pregen.adapters.courses import DynamoCourseStore
from pregen.adapters.library import DynamoLibraryStore
from pregen.config.base import load
from pregen.config.functions import CourseSettings
from pregen.domain.clock import SystemClock
from pregen.wiring import clients
from pregen.wiring.cache import once
from pregen.wiring.serve import generation_limiter, lanes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer

    from pregen.services.courses import CourseDeps


def idempotency_store() -> BasePersistenceLayer:
    """Powertools' DynamoDB idempotency records, in the exams table (pk ``idempotency#courses``, sk the hash of
    the caller and their key, TTL ``expires_at``): a new layer per request on the process's one client."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    return DynamoDBPersistenceLayer(
        table_name=load(CourseSettings).exams_table,
        key_attr="pk",
        sort_key_attr="sk",
        static_pk_value="idempotency#courses",
        expiry_attr="expires_at",
        boto3_client=clients.dynamodb(),
    )


@once
def course_deps() -> CourseDeps:
    from pregen.services.courses import CourseDeps

    s = load(CourseSettings)
    client = clients.dynamodb()
    return CourseDeps(
        courses=DynamoCourseStore(s.exams_table, client),
        queue=lanes(s),
        counters=DynamoCounters(s.counters_table, client),
        clock=SystemClock(),
        policy=s,
        limiter=generation_limiter(s.counters_table, s),
        idempotency=idempotency_store,
        library=DynamoLibraryStore(s.content_table, client),
    )
