# The two commands of the quick start.  Both set up the environment first.
#   make demo   - a virtualenv with the ledger, then `cultivation demo` on the embedded defaults
#   make test   - the same virtualenv with the test and lint extras, then lint and every room of tests
# And the parts of `make test`, each on its own:
#   make lint         - ruff, mypy and the import layers (lint-imports), as the pre-commit hooks run them
#   make unit         - tests/unit and the doctests: no store, no process, seconds
#   make integration  - tests/integration: real SQLite and PostgreSQL stores
#   make e2e          - tests/e2e: CLI processes, NATS, serve, the README's code, the benchmark smoke run
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/python -m pytest -q
PACKAGES := domain projections infra services audit reports scenarios entrypoints

.PHONY: demo test setup lint unit integration e2e clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,lint]"
	touch $@

setup: $(BIN)/.installed

demo: setup
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
