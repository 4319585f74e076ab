# Every target installs what it needs into .venv first; only Python 3.11+ is required.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-postgres lint openapi bench bench-smoke fuzz soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Run the service on SQLite (var/ecolabel-registry.sqlite3) with the demo data, on port PORT;
## receipts are signed with var/signing-keys.json, made on the first run.
PORT ?= 8000
run: $(STAMP)
	$(BIN)/ecolabel-registry migrate
	$(BIN)/ecolabel-registry seed --demo
	$(BIN)/ecolabel-registry signing-key create --if-missing
	$(BIN)/ecolabel-registry serve --host 127.0.0.1 --port $(PORT)

## The suite runs in TEST_WORKERS processes (pytest-xdist), a test file to a process: the
## tests of one file share its module-level servers and data. Each process makes its own
## database. TEST_WORKERS=0 runs it in this process alone.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

## Lint, types, import contracts, OpenAPI drift, then the whole suite (SQLite by default).
test: lint
	$(PYTEST)

## The same suite on PostgreSQL (127.0.0.1:5432, user postgres; each run makes its own database).
test-postgres: $(STAMP)
	ECOLABEL_TEST_ENGINE=postgresql $(PYTEST)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/ecolabel-registry openapi --check

## Schemathesis over every operation, against a served demo registry on SQLite and PostgreSQL.
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run_fuzz

## A short soak (SOAK_SECONDS, default 300) of mixed load; fails on errors or memory growth.
SOAK_SECONDS ?= 300
soak: $(STAMP)
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS)

## Every speed bar of docs/quality.md at the small size (10k certificates), PostgreSQL and SQLite;
## tables on screen, JSON in bench/results/. The large run: $(BIN)/python bench/run_all.py --large
bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## The benchmarks once over a tiny registry: CI's smoke test (it must finish; no speed is asserted).
bench-smoke: $(STAMP)
	$(BIN)/python bench/run_all.py --smoke

openapi: $(STAMP)
	$(BIN)/ecolabel-registry openapi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
