# autocall: `make demo` runs a real campaign on the embedded local stack; `make test` checks everything.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python)
VENV := .venv
BIN := $(VENV)/bin
# The locks (hashed, `make lock` regenerates them from the .in files people edit) decide .venv.
REQS := requirements-dev.lock layers/common/requirements.lock
STAMP := $(VENV)/.installed-$(shell cat $(REQS) | sha1sum | cut -c1-12)
PYTEST_FLAGS ?=

.PHONY: reliability-e2e venv lock lint test test-fast unit integration e2e reliability run demo bench sam-validate clean
.PHONY: venv-sam sam-build deploy-tier

$(STAMP): $(REQS)
	@echo "==> building $(VENV) with $(PYTHON)"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	touch $@

venv: $(STAMP)

# After editing requirements-dev.in or layers/common/requirements.in: both locks, with hashes
# (scripts/lock; LOCK_ARGS=--upgrade moves unpinned dependencies to their newest releases).
lock:
	PYTHON=$(PYTHON) scripts/lock $(LOCK_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/common/autocall
	$(BIN)/cfn-lint template.yaml

# unit + integration + in-process reliability share one process (moto in-process); e2e starts the
# local stack in its own, and so does the reliability suite's local-stack part (it restarts it).
test: lint
	$(MAKE) --no-print-directory deploy-tier
	$(BIN)/pytest tests --ignore=tests/e2e --ignore=tests/reliability/e2e --ignore=tests/deploy $(PYTEST_FLAGS)
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

# One real call through a deployed stack, followed to its post-call result (scripts/smoke.py --help):
# make smoke SMOKE_ARGS="--phone +14155550123 [--stack-name autocall] [--api-url URL --token TOKEN]"
.PHONY: smoke
smoke: venv
	$(BIN)/python scripts/smoke.py $(SMOKE_ARGS)

bench: venv
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache demo-report.html

# The local-stack half of the reliability suite alone (duplicates under a running clock, a restart,
# schemathesis, a privacy campaign); `make test` runs it last.
reliability-e2e: venv
	$(BIN)/pytest tests/reliability/e2e $(PYTEST_FLAGS)

# --- deploy fidelity: what `sam build` ships, tested as Lambda would run it -----------------------
# aws-sam-cli pins its own boto3, so it gets its own venv. `sam build` runs without a container:
# Lambda's python3.12 must be on PATH (scripts/find-python picks it). SAM_PLATFORM is the layer's
# wheel platform (layers/common/Makefile's PLATFORM, passed through SAM's environment); empty means
# the layer Makefile's default, Lambda's arm64. SAM_BUILD_DIR / SAM_CACHE_DIR: where it builds.
SAM_VENV := .venv-sam
SAM_CLI_VERSION := 1.170.0
SAM := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-aws-sam-cli-$(SAM_CLI_VERSION)
SAM_BUILD_DIR ?= .aws-sam/build
SAM_CACHE_DIR ?= .aws-sam/cache
SAM_PLATFORM ?=
SAM_ENV = PATH="$(dir $(shell command -v $(PYTHON))):$$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1
# The tier builds for this machine (its wheels must import here) into its own folders, so a later
# `sam build --cached && sam deploy` never picks up this machine's wheels for arm64.
DEPLOY_ARCH := $(shell uname -m)
DEPLOY_BUILD_DIR := .aws-sam/deploy-tier-$(DEPLOY_ARCH)/build
DEPLOY_CACHE_DIR := .aws-sam/deploy-tier-$(DEPLOY_ARCH)/cache

$(SAM_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12) and "$(PYTHON) is not python3.12, which sam build needs (Lambda runtime python3.12)")'
	@echo "==> building $(SAM_VENV) (aws-sam-cli $(SAM_CLI_VERSION)) with $(PYTHON)"
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

venv-sam: $(SAM_STAMP)

sam-validate: venv-sam
	$(SAM_ENV) $(SAM) validate --lint

sam-build: venv-sam
	$(SAM_ENV) $(if $(SAM_PLATFORM),PLATFORM=$(SAM_PLATFORM)) $(SAM) build --cached --parallel \
		--build-dir $(SAM_BUILD_DIR) --cache-dir $(SAM_CACHE_DIR)

# `make test` runs it after lint: validate, build for this machine, then tests/deploy on the build.
deploy-tier: venv venv-sam
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory sam-validate \
	&& $(MAKE) --no-print-directory sam-build SAM_PLATFORM=manylinux2014_$(DEPLOY_ARCH) \
		SAM_BUILD_DIR=$(DEPLOY_BUILD_DIR) SAM_CACHE_DIR=$(DEPLOY_CACHE_DIR) \
	&& AUTOCALL_SAM_BUILD_DIR=$(DEPLOY_BUILD_DIR) $(BIN)/pytest tests/deploy $(PYTEST_FLAGS); \
	rc=$$?; echo "==> deploy-fidelity tier: $$(( $$(date +%s) - start )) s (exit $$rc)"; exit $$rc
