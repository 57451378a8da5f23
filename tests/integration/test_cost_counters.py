"""Cost totals per day, kind, model and learner, kept by the worker as it stores each generation."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from functions.analytics import app as analytics
from functions.get_content import app as get_content
from pregen.domain.models import ContentRequest, Generation, TokenUsage
from pregen.wiring import worker as worker_wiring
from tests.integration.conftest import api_event, call, freeze, run_worker

if TYPE_CHECKING:
    from tests.integration.conftest import Aws


class PricedGenerator:
    """Offline content reported as made on a given model at a given cost."""

    name = "priced"

    def __init__(self, model: str, cost: float) -> None:
        from pregen.adapters.generators.offline import OfflineGenerator

        self.inner, self.model, self.cost = OfflineGenerator(), model, cost

    def generate(
        self, request: ContentRequest, feedback: str | None = None, *, max_calls: int | None = None
    ) -> Generation:
        body = self.inner.generate(request).body
        usage = TokenUsage(input_tokens=100, output_tokens=200)
        return Generation(body=body, generator="anthropic", model=self.model, usage=usage, cost_usd=self.cost)


def test_each_generation_is_counted_per_kind_model_and_learner(aws: Aws) -> None:
    # Given a day the test controls, and two learners who each miss a different lesson, generated on the small
    # model at $0.01 each
    clock = freeze(dt.datetime(2027, 3, 31, 23, 0, tzinfo=dt.UTC).timestamp())
    worker_wiring.worker_deps().generator = PricedGenerator("claude-haiku-5-5", 0.01)
    for sub, topic in (("ann", "Cells"), ("ben", "Genes")):
        query = {"kind": "lesson", "subject": "Biology", "topic": topic}
        assert call(get_content, api_event("get_content.json", sub=sub, query=query))[0] == 202
    run_worker(aws)

    # Then the day's totals hold the cost per kind and per model...
    day = dt.datetime.fromtimestamp(clock.now(), tz=dt.UTC).date().isoformat()
    table = aws.resources.tables["CountersTable"]
    totals = worker_wiring.worker_deps().counters.read_days([day])[day]
    assert totals["cost_usd#lesson"] == pytest.approx(0.02)
    assert totals["cost_usd_model#claude-haiku-5-5"] == pytest.approx(0.02)
    assert totals["generated_model#claude-haiku-5-5"] == 2
    # ...and each learner's own small item holds what their requests cost
    for sub in ("ann", "ben"):
        item = aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": f"learner#{sub}"}, "sk": {"S": f"day#{day}"}})
        assert float(item["Item"]["cost_usd"]["N"]) == pytest.approx(0.01)
    # And analytics shows cost per model and the average per kind
    window = {"from": day, "to": day}
    status, _, figures = call(analytics, api_event("analytics.json", sub="ops", role="admin", query=window))
    assert status == 200
    assert figures["costs"]["costUsdByModel"] == {"claude-haiku-5-5": pytest.approx(0.02)}
    assert figures["costs"]["averageCostUsdByKind"]["lesson"] == pytest.approx(0.01)
