# autocall: `make demo` runs a real campaign on the embedded local stack; `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
REQS := requirements-dev.txt layers/common/requirements.txt
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha1sum | cut -c1-12)
PYTEST_FLAGS ?=

.PHONY: reliability-e2e venv lint test test-fast unit integration e2e reliability run demo bench sam-validate clean

$(STAMP): $(REQS)
	@echo "==> building $(VENV) with $(PYTHON)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/common/autocall
	$(BIN)/cfn-lint template.yaml

# unit + integration + in-process reliability share one process (moto in-process); e2e starts the
# local stack in its own, and so does the reliability suite's local-stack part (it restarts it).
test: lint
	$(BIN)/pytest tests --ignore=tests/e2e --ignore=tests/reliability/e2e $(PYTEST_FLAGS)
	$(BIN)/pytest tests/e2e $(PYTEST_FLAGS)
	$(BIN)/pytest tests/reliability/e2e $(PYTEST_FLAGS)

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_FLAGS)

integration: venv
	$(BIN)/pytest tests/integration $(PYTEST_FLAGS)

e2e: venv
	$(BIN)/pytest tests/e2e $(PYTEST_FLAGS)

reliability: venv
	$(BIN)/pytest tests/reliability --ignore=tests/reliability/e2e $(PYTEST_FLAGS)
	$(BIN)/pytest tests/reliability/e2e $(PYTEST_FLAGS)

run: venv
	$(BIN)/python -m local

demo: venv
	$(BIN)/python -m local.demo

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-report.html

# The local-stack half of the reliability suite alone (duplicates under a running clock, a restart,
# schemathesis, a privacy campaign); `make test` runs it last.
reliability-e2e: venv
	$(BIN)/pytest tests/reliability/e2e $(PYTEST_FLAGS)
