# Homeport developer commands. Each creates the local virtual environment (.venv) on first use,
# so a fresh machine needs only Python 3.11+ with its venv module.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
ARGS   ?=
# Test processes (pytest-xdist): one per core; WORKERS=0 runs every test in this process.
WORKERS ?= auto

.PHONY: demo test lint typecheck pytest bench screenshots serve clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Homeport needs Python 3.11 or newer (found " + sys.version.split()[0] + "); run: make PYTHON=python3.12 ...")'
	@$(PYTHON) -m venv $(VENV) || { echo "could not create $(VENV): on Debian/Ubuntu install the venv module (apt install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-base

## make demo: install, simulate 2,000 subscribers on SQLite and serve http://127.0.0.1:8000
demo: $(VENV)/.installed-base
	$(BIN)/homeport demo $(ARGS)

## make test: install, then lint, type-check, check the layering, and run every test
test: $(VENV)/.installed-dev lint typecheck pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup $(ARGS)

## make bench: the benchmarks in bench/ (figures go to docs/benchmarks.md)
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/simulate.py

## make screenshots: refresh docs/screenshots from the browser tests
screenshots: $(VENV)/.installed-dev
	HOMEPORT_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -m browser -k sqlite $(ARGS)

serve: $(VENV)/.installed-base
	$(BIN)/homeport serve $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
