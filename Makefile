# The two set-up commands are `make demo` and `make test`; both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo serve test check lint typecheck format system-deps portal-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

## Build the demo registry in the embedded store and serve it on http://127.0.0.1:8000
demo: portal-deps $(VENV)/.installed
	$(BIN)/trustreg demo

serve: portal-deps $(VENV)/.installed
	$(BIN)/trustreg serve

## Install what the tests need (Python dev dependencies, PostgreSQL, Chromium, fonts, Pango) and run them all
test: system-deps $(VENV)/.installed-dev
	$(BIN)/pytest -n 2 -p no:cacheprovider

system-deps:
	@bash scripts/install-system-deps.sh

## What the portal itself needs from Debian: a CJK font and Pango (certificate PDFs)
portal-deps:
	@bash scripts/install-system-deps.sh portal

lint: $(VENV)/.installed-dev
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict src

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

## ruff (format and lint), mypy --strict on src/, and the whole test suite
check: lint typecheck test

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(VENV)/.installed $(VENV)/.installed-dev $@

## the benchmarks (long: see docs/performance.md); they are never part of `make test`
bench: $(VENV)/.installed-bench
	$(BIN)/python bench/import_records.py
	$(BIN)/python bench/screening_quality.py
	$(BIN)/python bench/screening_speed.py --workdir var/bench-screening

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
