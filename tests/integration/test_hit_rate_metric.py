"""get-content's EMF blob files CacheHit/CacheMiss both per kind and kind-less: the hit-rate alarm reads the
kind-less series, so every kind counts (issue 30)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from functions.get_content import app as get_content
from tests.integration.conftest import Aws, api_event, call, run_worker

if TYPE_CHECKING:
    import pytest


def _emitted(output: str, name: str) -> list[dict[str, Any]]:
    blobs = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [b for b in blobs if any(m["Name"] == name for d in b["_aws"]["CloudWatchMetrics"] for m in d["Metrics"])]


def test_a_miss_and_a_hit_are_filed_per_kind_and_across_kinds(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    query = {"kind": "lesson", "subject": "Python", "topic": "Variables", "grade": "10"}
    status, _, _ = call(get_content, api_event("get_content.json", query=query))
    assert status == 202
    run_worker(aws)
    status, _, _ = call(get_content, api_event("get_content.json", query=query))
    assert status == 200
    output = capsys.readouterr().out
    for name in ("CacheMiss", "CacheHit"):
        (blob,) = _emitted(output, name)
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Pregen"
        assert sorted(map(sorted, directive["Dimensions"])) == [["kind", "service"], ["service"]]
        assert (blob["kind"], blob["service"], blob[name]) == ("lesson", "pregen", [1.0])
