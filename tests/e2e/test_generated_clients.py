"""Clients generated from the stack's own OpenAPI document work against the stack (issue 31 item 2).

Python: openapi-python-client lives in .venv-client (the Makefile's e2e target installs it, pinned): the test
generates the client from ``GET /openapi.json`` and runs generated_client_scenario.py in that environment, which
asks for a lesson with the client's typed query parameters, follows the 202's job and reads the lesson as a typed
model. TypeScript: openapi-typescript writes the document's types, tsc (strict) compiles
typescript_client/scenario.ts against them, and node runs the same loop through openapi-fetch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from pregen_tools import tokens

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLIENT_VENV = ROOT / ".venv-client"
SCENARIO = Path(__file__).with_name("generated_client_scenario.py")
EXAM_AND_COURSE = Path(__file__).with_name("generated_client_exam_course.py")
TS_CLIENT = Path(__file__).with_name("typescript_client")


def _generate(url: str, folder: Path) -> Path:
    generator = CLIENT_VENV / "bin" / "openapi-python-client"
    if not generator.exists():
        pytest.fail(f"{generator} is missing: `make e2e` installs it (or make {CLIENT_VENV.name}/.installed)")
    document = _served(url, folder)
    config = folder / "client.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: the generated code is used, not read
    result = subprocess.run(
        [
            generator,
            "generate",
            "--path",
            document,
            "--meta",
            "none",
            "--output-path",
            folder / "pregen_client",
            "--config",
            config,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Warning" not in output and "Unable to" not in output, output  # it generates every operation and schema
    return folder


def test_a_generated_python_client_asks_for_a_lesson_follows_the_202_and_reads_it(
    stack: dict[str, str], tmp_path: Path
) -> None:
    folder = _generate(stack["url"], tmp_path)
    assert (folder / "pregen_client" / "api" / "content" / "get_content.py").exists()  # named by its operation id
    token = tokens.mint("e2e-generated-client", "student")
    subject = "Fractions for the generated client"
    report = _scenario(folder, SCENARIO, stack["url"], token, subject, timeout=120)
    # The query went as plain parameters (a 400 otherwise): a miss with a job to follow
    assert report["miss"]["status"] == 202 and report["miss"]["x_cache"] == "MISS"
    assert report["location"] == f"/v1/jobs/{report['miss']['job_id']}"
    assert report["job"] == {"status": "done", "kind": "lesson"}
    # The same request is now a hit, its content parsed as the Lesson model (the kind's schema in the document)
    assert report["hit"] == {"status": 200, "x_cache": "HIT", "kind": "lesson"}
    assert report["content_class"] == "Lesson"
    assert report["title"] == report["raw_title"] and report["title"]
    assert report["sections"] and all(report["sections"])


def test_the_generated_python_client_claims_and_answers_an_exam_and_builds_a_course(
    stack: dict[str, str], tmp_path: Path
) -> None:
    folder = _generate(stack["url"], tmp_path)
    student, teacher = tokens.mint("e2e-client-exams", "student"), tokens.mint("e2e-client-teacher", "teacher")
    report = _scenario(folder, EXAM_AND_COURSE, stack["url"], student, teacher, timeout=400)
    exam, course = report["exam"], report["course"]
    # A learner's warm is accepted; their claim waited (202) until an exam was ready, then handed it out in the
    # student's view: the EPPP diagnostic's 71 questions with no answers in them
    assert exam["warm_status"] == 202
    assert (exam["view"], exam["questions"], exam["answer_fields"]) == ("student", 71, [])
    # And the answers, sent through the generated model, came back graded question by question
    assert exam["graded"] == {"status": 201, "total": 71, "results": 71}
    # A teacher's course was accepted and followed to ready through the client's typed CourseBody
    assert course["asked_status"] == 202
    assert course["status"] == "ready" and course["modules"] == 2
    assert course["parts"]["done"] == course["parts"]["total"] > 0


def _scenario(folder: Path, script: Path, *args: str, timeout: int) -> Any:
    """Run a scenario in .venv-client with the generated client importable; what it printed, as JSON."""
    run = subprocess.run(
        [CLIENT_VENV / "bin" / "python", script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _served(url: str, folder: Path) -> Path:
    document = folder / "openapi.json"
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=30) as response:
        document.write_bytes(response.read())
    return document


def _run(command: list[Any], cwd: Path, timeout: int = 300) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return result.stdout


def test_a_typescript_client_typed_by_the_document_asks_for_a_lesson_follows_the_202_and_reads_it(
    stack: dict[str, str], tmp_path: Path
) -> None:
    modules = TS_CLIENT / "node_modules"
    if not (modules / ".installed").exists():
        pytest.fail(f"{modules} is missing: `make e2e` installs it (npm ci --prefix {TS_CLIENT.relative_to(ROOT)})")
    for name in ("scenario.ts", "tsconfig.json", "package.json"):
        shutil.copy(TS_CLIENT / name, tmp_path / name)
    (tmp_path / "node_modules").symlink_to(modules)
    bin_dir = modules / ".bin"
    _run([bin_dir / "openapi-typescript", _served(stack["url"], tmp_path), "-o", "schema.d.ts"], tmp_path)
    _run([bin_dir / "tsc", "-p", "."], tmp_path)  # strict: the scenario's use of the types compiles
    token = tokens.mint("e2e-typescript-client", "student")
    output = _run(["node", "build/scenario.js", stack["url"], token, "Fractions for the TypeScript client"], tmp_path)
    report = json.loads(output)
    # openapi-fetch serialised the query as plain parameters (a 400 otherwise): a miss with a job to follow
    assert report["miss"]["status"] == 202 and report["miss"]["x_cache"] == "MISS"
    assert report["location"] == f"/v1/jobs/{report['miss']['job_id']}"
    assert report["job"] == {"status": "done"}
    assert report["hit"] == {"status": 200, "x_cache": "HIT", "kind": "lesson"}
    assert report["title"] and report["sections"] and all(report["sections"])
