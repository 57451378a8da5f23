"""The serving path stays lean: get-content must never import the Anthropic SDK (1-1.6 s of cold start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "CONTENT_TABLE": "c-table",
    "JOBS_TABLE": "j-table",
    "COUNTERS_TABLE": "n-table",
    "INTERACTIVE_QUEUE_URL": "https://sqs/i",
    "BACKGROUND_QUEUE_URL": "https://sqs/b",
    "INTERACTIVE_DLQ_URL": "https://sqs/id",
    "BACKGROUND_DLQ_URL": "https://sqs/bd",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def imported_modules(module: str) -> set[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, **ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "core")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True, cwd=ROOT)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize(
    "module",
    [
        "functions.get_content.app",
        "functions.pre_generate.app",
        "functions.analytics.app",
        "functions.cron.app",
        "functions.library.app",
        "functions.exams.app",
    ],
)
def test_api_functions_do_not_import_anthropic(module: str) -> None:
    modules = imported_modules(module)
    assert "pregen.http.api" in modules  # the import really happened
    assert not {m for m in modules if m == "anthropic" or m.startswith("anthropic.")}


@pytest.mark.parametrize(
    ("module", "not_loaded"),
    [
        # The hit path: no preload model, no content schemas, no exam programs, no other function's settings or
        # wiring, no queue messages, and the ports (Protocol classes) are for type checking only.
        (
            "functions.get_content.app",
            {
                "pregen.domain.prediction",
                "pregen.domain.schemas",
                "pregen.domain.programs",
                "pregen.config.functions",
                "pregen.ports",
                "pregen.messages",  # a miss builds a job message; a hit does not
                "pregen.wiring.worker",
                "pregen.wiring.exams",
            },
        ),
        # The worker: exam sections bring their machinery with the first section; it never serves.
        (
            "functions.worker.app",
            {"pregen.domain.programs", "pregen.services.exam_generation", "pregen.services.content", "pregen.ports"},
        ),
        # The exam API hands out exams; checking a generated one against the schemas is the worker's job.
        ("functions.exams.app", {"pregen.domain.schemas"}),
    ],
)
def test_functions_load_only_what_their_common_path_uses(module: str, not_loaded: set[str]) -> None:
    modules = imported_modules(module)
    assert module in modules
    assert not (not_loaded & modules)
