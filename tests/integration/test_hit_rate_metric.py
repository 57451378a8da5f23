"""get-content files CacheHit/CacheMiss both per kind and kind-less: the hit-rate alarm reads the kind-less series,
so every kind counts (issue 30). A hit's metric rides on its usage line, the one line a hit writes."""

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
    # The miss's blob is Powertools'; the hit's metric is its usage line (what the log subscription reads)
    for name, lines in (("CacheMiss", output.splitlines()), ("CacheHit", aws.usage_lines)):
        (blob,) = _emitted("\n".join(lines), name)
        (directive,) = blob["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Pregen"
        assert sorted(map(sorted, directive["Dimensions"])) == [["kind", "service"], ["service"]]
        assert (blob["kind"], blob["service"], sum(_numbers(blob[name]))) == ("lesson", "pregen", 1)
    assert not _emitted(output, "CacheHit")  # no second blob for the hit


def _numbers(value: Any) -> list[float]:
    return list(map(float, value)) if isinstance(value, list) else [float(value)]


HIT_LOG_FLOOR_BYTES = 600  # issue 30: at most 0.6 KB of log per hit at the default level


def test_a_hit_writes_one_line_of_log_at_the_default_level(aws: Aws, capsys: pytest.CaptureFixture[str]) -> None:
    # Given cached content (its miss and generation logged what they log)
    query = {"kind": "lesson", "subject": "Python", "topic": "Variables", "grade": "10"}
    assert call(get_content, api_event("get_content.json", query=query))[0] == 202
    run_worker(aws)
    assert call(get_content, api_event("get_content.json", query=query))[0] == 200  # the first hit
    capsys.readouterr()
    aws.usage_lines.clear()
    # When it is hit again (a warm environment: the steady state)
    assert call(get_content, api_event("get_content.json", query=query))[0] == 200
    # Then what the function wrote is the usage line alone: no INFO line, no second EMF blob. Lambda's START, END
    # and REPORT are platform logs at INFO, which the template's default SystemLogLevel (WARN) does not send.
    captured = capsys.readouterr()
    written = [line for line in (captured.out + captured.err).splitlines() if line.strip()]
    assert written == []
    (line,) = aws.usage_lines
    assert json.loads(line)["usage"] == "hit"
    per_hit = len(line.encode()) + 1  # and its newline
    with capsys.disabled():
        print(f"\nlog per hit: {per_hit} bytes")  # docs/CAPACITY.md quotes this figure
    assert per_hit <= HIT_LOG_FLOOR_BYTES
