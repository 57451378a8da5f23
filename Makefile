# Pregen: `make run` brings the whole system up locally; `make test` runs every check CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13: use a 3.13 interpreter when there is one (pyenv or PATH), else python3.
PYTHON ?= $(shell for p in python3.13 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null) python3; do \
             if $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then echo $$p; break; fi; done)
VENV := .venv
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
DOCS_VENV := .venv-docs
CLIENT_VENV := .venv-client
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest -p no:cacheprovider
export SAM_CLI_TELEMETRY := 0

.PHONY: help run test lint typecheck template docs build unit suites integration moved-clock moved-clock-ahead moved-clock-year-end e2e bench bench-faults bench-faults-stack bench-realtime bench-faults-floor bench-load fuzz clean

help:
	@echo "make run    - bring up the local stack on http://127.0.0.1:3000 (no Docker)"
	@echo "make test   - lint, types, template checks and all tests"
	@echo "make bench  - benchmarks (results in docs/BENCHMARKS.md)"
	@echo "make fuzz   - schemathesis over the local stack, five times deeper than make test"
	@echo "make docs   - the docs site (mkdocs-material) into .site/; a broken link or anchor fails it"

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $@

# aws-sam-cli pins boto3 and pydantic below ours, so it lives in its own virtual environment.
$(SAM_VENV)/.installed:
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install -q --disable-pip-version-check "aws-sam-cli>=1.140"
	@touch $@

# Content survives a restart (DynamoDB Local's data under .local/); `make run FRESH=1` starts with empty tables.
run: $(VENV)/.installed
	$(BIN)/python -m pregen_tools.local_stack $(if $(FRESH),--fresh)

test: lint typecheck template docs build unit suites e2e

# The integration tier and the two moved-clock reruns are independent processes, each busy on about one core: two run at
# once on a 2-core machine (make -j2, each target's output printed whole when it ends); one after another they took
# 24 of make test's 32.7 minutes in CI. Each starts its own DynamoDB Local and servers on free ports; they share no files.
suites: $(VENV)/.installed
	$(MAKE) -j2 --output-sync=target integration moved-clock-ahead moved-clock-year-end

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# checkov (an IaC security scanner) has dependencies of its own: its own virtual environment too.
$(CHECKOV_VENV)/.installed:
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check "checkov>=3.2"
	@touch $@

# Every checkov finding is fixed or skipped in the template with its reason (Metadata: checkov: skip).
template: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(BIN)/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml --region us-east-1
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

# The docs site (mkdocs-material; the API reference rendered from docs/openapi.json by neoteroi-mkdocs) has
# dependencies of its own too. --strict: a link or anchor that leads nowhere fails the build (CI's link check).
$(DOCS_VENV)/.installed:
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install -q --disable-pip-version-check "mkdocs-material>=9.5,<10" "neoteroi-mkdocs>=1.1,<2"
	@touch $@

docs: $(DOCS_VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(DOCS_VENV)/bin/mkdocs build --strict --quiet

# sam build needs an interpreter of the runtime's minor version (python3.13) on PATH; pyenv's will do.
# (pyenv's shims are not enough: sam runs the interpreter it finds, and a shim may resolve to another version).
PY313_DIR := $(shell dirname "$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.13*/bin/python3.13 2>/dev/null | head -n 1 | grep . || command -v python3.13)")

# The deployable artifacts, built as `sam deploy` would ship them, then checked (tests/build): the layer's boto3 and
# botocore match, its compiled modules are arm64, and every import of every function resolves.
build: $(VENV)/.installed $(SAM_VENV)/.installed
	@test -x "$(PY313_DIR)/python3.13" || { echo "sam build needs python3.13 (the Lambda runtime) on PATH"; exit 1; }
	PATH="$(PY313_DIR):$$PATH" $(SAM_VENV)/bin/sam build --template template.yaml
	$(PYTEST) tests/build -q

unit: $(VENV)/.installed
	$(PYTEST) tests/unit -q

integration: $(VENV)/.installed
	$(PYTEST) tests/integration tests/emulator -q

# The unit, integration and emulator tests that read the wall clock, again with the process clock moved (tests/conftest.py,
# PREGEN_TEST_CLOCK): 400 days ahead, and into the last minutes of a year, so a test that depends on today's date or on
# a month or year fails here. Only those marked wall_clock: the others' outcome cannot move with the clock, and the
# normal run fails an unmarked test that reads it (tests/wall_clock.py; the list: tests/wall_clock_tests.txt).
moved-clock: $(VENV)/.installed
	$(MAKE) -j2 --output-sync=target moved-clock-ahead moved-clock-year-end

moved-clock-ahead: $(VENV)/.installed
	PREGEN_TEST_CLOCK=+400d $(PYTEST) -m wall_clock tests/unit tests/integration tests/emulator -q

moved-clock-year-end: $(VENV)/.installed
	PREGEN_TEST_CLOCK=2028-12-31T23:50:00Z $(PYTEST) -m wall_clock tests/unit tests/integration tests/emulator -q

# openapi-python-client generates a Python client from the API's document; tests/e2e/test_generated_clients.py uses it.
$(CLIENT_VENV)/.installed:
	@test -x $(CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(CLIENT_VENV)
	$(CLIENT_VENV)/bin/python -m pip install -q --disable-pip-version-check "openapi-python-client==0.29.1"
	@touch $@

# openapi-typescript and openapi-fetch (pinned by package-lock.json) for the TypeScript client's test; needs Node 20.
TS_CLIENT := tests/e2e/typescript_client
$(TS_CLIENT)/node_modules/.installed: $(TS_CLIENT)/package-lock.json
	npm ci --prefix $(TS_CLIENT) --silent --no-audit --no-fund
	@touch $@

e2e: $(VENV)/.installed $(CLIENT_VENV)/.installed $(TS_CLIENT)/node_modules/.installed
	$(PYTEST) tests/e2e -q

bench: $(VENV)/.installed
	$(BIN)/python -m bench hit_path
	$(BIN)/python -m bench open_loop
	$(BIN)/python -m bench analytics
	$(BIN)/python -m bench cost --write

# Reliability (docs/RELIABILITY.md): 1,000 jobs under injected faults, and 50 clients for 60 s on loopback.
bench-faults: $(VENV)/.installed
	$(BIN)/python -m bench faults --write

# The same faults on the local stack (about 3 minutes): 250 jobs over HTTP, the worker's environments as processes on
# DynamoDB Local, duplicates sent to the lanes and environments SIGKILLed mid-request. Its own figures, its own run.
bench-faults-stack: $(VENV)/.installed
	$(BIN)/python -m bench faults --stack --jobs 250 --write

# Issue 27's floors at Claude's speed (MODEL_LATENCY=realistic; about 10 minutes): a new learner's exam warm, a 12 x 8
# course, every operator cron task's answer (docs/BENCHMARKS.md).
bench-realtime: $(VENV)/.installed
	$(BIN)/python -m bench exams_warm --latency realistic --timeout 1200 --write
	$(BIN)/python -m bench course_floor --latency realistic --timeout 900 --write
	$(BIN)/python -m bench cron_answers --rounds 3 --write

# The fault floor of issue 27 on the local stack (about 12-13 minutes; docs/RELIABILITY.md): 240 jobs, workers killed
# after a billed answer, calls that outlive the worker's timeout, the background lane through Message Batches.
bench-faults-floor: $(VENV)/.installed
	FAULTS_FORENSICS=1 $(BIN)/python -m bench faults --stack --jobs 240 --billed-kills 0.02 --batches --outlive-timeouts 0.01 --settle 600 --write

bench-load: $(VENV)/.installed
	$(BIN)/python -m bench load --write

# The fuzzing of tests/e2e/test_bad_input.py, five times deeper than in `make test` (docs/RELIABILITY.md).
fuzz: $(VENV)/.installed
	PREGEN_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -p no:cacheprovider -s tests/e2e/test_bad_input.py

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) $(DOCS_VENV) .site $(CLIENT_VENV) $(TS_CLIENT)/node_modules .local \
		.aws-sam .mypy_cache .ruff_cache
