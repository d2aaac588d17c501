# The two commands of the quick start.  Both set up the environment first.
#   make demo   - a virtualenv with the ledger alone (no test or lint tools), then `cultivation demo`
#                 on the embedded defaults
#   make test   - the virtualenv with the test and lint extras too, then lint and every room of tests
# And the parts of `make test`, each on its own (each sets up what `make test` does):
#   make setup        - the virtualenv with the test and lint extras, nothing run
#   make lint         - ruff, mypy and the import layers (lint-imports), as the pre-commit hooks run them
#   make unit         - tests/unit and the doctests: no store, no process, seconds
#   make integration  - tests/integration: real SQLite and PostgreSQL stores
#   make e2e          - tests/e2e: CLI processes, NATS, serve, the README's code, the benchmark smoke run
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest -q
PACKAGES := domain projections infra services audit reports scenarios entrypoints
# What has been installed into $(VENV), one stamp each, remade when pyproject.toml changes:
# the ledger alone (demo), the ledger with the test and lint extras (test; it covers the demo's too).
DEMO_STAMP := $(BIN)/.installed-demo
TEST_STAMP := $(BIN)/.installed-test

.PHONY: demo test setup lint unit integration e2e clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $@ $(DEMO_STAMP)

setup: $(TEST_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/cultivation demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: setup
	$(PYTEST) tests/unit $(PACKAGES)

integration: setup
	$(PYTEST) tests/integration

e2e: setup
	$(PYTEST) tests/e2e

# Lint first, then the rooms from the fastest; each stops `make test` at its first failure.
test: setup
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory e2e

clean:
	rm -rf $(VENV) build *.egg-info
