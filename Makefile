# Quick start: `make demo` and `make test` on a machine with only python3 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint docs check-docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

# From a terminal the demo then serves the dashboard (Ctrl+C stops it); in CI and scripts it exits.
demo: $(STAMP)
	$(BIN)/factorybrain demo --score

test: $(STAMP)
	$(BIN)/python -m pytest -q

# mypy gates the foundation layers; the engines and agents join as their typing is finished.
TYPED := src/factorybrain/model src/factorybrain/store src/factorybrain/connectors \
	src/factorybrain/cli.py src/factorybrain/demo.py src/factorybrain/_commands.py src/factorybrain/_stream_commands.py \
	src/factorybrain/exceptions.py src/factorybrain/engines/_base.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy --follow-imports=silent $(TYPED)

docs: $(STAMP)
	$(BIN)/factorybrain model --format markdown > docs/reference/entities.md

check-docs: $(STAMP)
	$(BIN)/factorybrain model --format markdown | diff -u docs/reference/entities.md - \
		|| (echo "docs/reference/entities.md is stale: run 'make docs'" && exit 1)

clean:
	rm -rf $(VENV) factory.duckdb .pytest_cache
