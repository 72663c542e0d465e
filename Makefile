# Quick start: `make demo` and `make test` on a machine with only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock demo test lint docs check-docs bench clean

# The versions installed are the ones pinned in requirements.lock (every extra, every platform);
# `make lock` re-resolves them from pyproject.toml, an upgrade being a commit of its own.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/uv pip check --quiet --python $(BIN)/python
	touch $(STAMP)

lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra all --extra dev --universal --python-version 3.11 \
		--upgrade --quiet --custom-compile-command "make lock" -o requirements.lock

install: $(STAMP)

# From a terminal the demo then serves the dashboard (Ctrl+C stops it); in CI and scripts it exits.
demo: $(STAMP)
	$(BIN)/factorybrain demo --score

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/factorybrain model --format markdown > docs/reference/entities.md

check-docs: $(STAMP)
	$(BIN)/factorybrain model --format markdown | diff -u docs/reference/entities.md - \
		|| (echo "docs/reference/entities.md is stale: run 'make docs'" && exit 1)

clean:
	rm -rf $(VENV) factory.duckdb .pytest_cache
