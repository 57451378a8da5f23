"""Bad input against the local stack over HTTP: schemathesis generates requests from the OpenAPI document the
stack serves (Powertools' generated documents, merged: pregen_tools.openapi) and checks every answer.

It runs as ``st run`` does, with every check on: no 5xx; every answer one the document declares, with its
body's schema and headers; schema-valid requests accepted; schema-invalid ones refused; undeclared content
types and methods answered as declared. The one replacement is for undeclared methods: API Gateway answers
them 404 ``{"message": "Not Found"}``, not 405 (tests/e2e/fuzz_hooks.py, which also keeps the two rules the
schema cannot state). The document is built from template.yaml's routes, so a new route is fuzzed without
touching this file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aws_emulator.template import ROOT, Template
from pregen_tools import openapi, tokens
from tests.e2e.fuzz_hooks import FUZZ_GRADE

pytestmark = pytest.mark.e2e

# Examples per operation and phase. `make test` keeps each run to a few minutes on the local stack; `make fuzz`
# runs five times deeper (PREGEN_FUZZ_EXAMPLES=200).
EXAMPLES = int(os.environ.get("PREGEN_FUZZ_EXAMPLES", "40"))
SEED = 20261125  # a fixed seed: a failure found here is found again by the same command


@pytest.fixture(scope="module")
def served(own_stack: dict[str, str]) -> dict[str, Any]:
    with urllib.request.urlopen(f"{own_stack['url']}/openapi.json", timeout=30) as response:
        assert response.status == 200
        document: dict[str, Any] = json.loads(response.read())
    return document


def test_the_stack_serves_the_document_in_docs(served: dict[str, Any]) -> None:
    # docs/openapi.json is what the stack serves: regenerate it with `python -m pregen_tools.openapi`.
    on_disk = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served == on_disk == openapi.document()
    routes = {(m.upper(), p) for p, ops in served["paths"].items() for m in ops}
    assert routes == {(r.method, r.path) for r in Template().routes()}


def fuzz(url: str, document: Path, role: str, out: Path) -> subprocess.CompletedProcess[str]:
    """``st run`` with every check on, as an app of the given role whose token carries a grade."""
    token = tokens.mint(f"fuzz-{role}", role, extra={"grade": FUZZ_GRADE})
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        str(document),
        "--url",
        url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--exclude-checks",
        "unsupported_method",  # API Gateway answers 404, not 405: api_gateway_unmatched_method checks that
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--request-timeout",
        "30",
        # API Gateway's own limit for an integration (30 s). On 2 shared cores the local stack can take seconds
        # for a warm that queues 90 items; a deployment takes far less.
        "--max-response-time",
        "29",
        # One request at a time: the seed then reproduces a failure in the same order of requests.
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(out / f"{role}.xml"),
    ]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.parametrize("role", ["admin", "student"])
def test_no_request_gets_an_answer_the_document_does_not_promise(
    served: dict[str, Any], own_stack: dict[str, str], role: str, tmp_path: Path
) -> None:
    # Fuzzing warms, pre-generates and navigates a lot: its own stack, so its backlog delays no other test.
    document = tmp_path / "openapi.json"
    document.write_text(json.dumps(served))
    run = fuzz(own_stack["url"], document, role, tmp_path)
    print(f"{role}: {EXAMPLES} examples per operation and phase;", run.stdout.rsplit("Test cases:", 1)[-1][:200])
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    # The run did test every operation and send requests
    report = (tmp_path / f"{role}.xml").read_text()
    assert report.count("<testcase") >= len(served["paths"]), report[:2000]
    assert "Test cases:" in run.stdout
