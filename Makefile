# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test quick lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash examples/demo.sh

# Everything: lint (with the complexity rule), types, and every test on every core, the slow system tests too.
test: $(STAMP)
	bash scripts/test-deps.sh
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -n auto

# The loop while working: every test but the slow system ones (tj3, Chromium, the reliability harness, the wheel).
quick: $(STAMP)
	$(BIN)/pytest -q -n auto -m "not slow"

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/validate_configs.py
	$(BIN)/python benchmarks/records.py
	$(BIN)/python benchmarks/efficiency.py
	$(BIN)/python benchmarks/schedule.py
	$(BIN)/python benchmarks/imports.py
	$(BIN)/python benchmarks/tasks.py
	$(BIN)/python benchmarks/tj3.py
	$(BIN)/python benchmarks/reliability.py
	$(BIN)/python benchmarks/server.py
	$(BIN)/python benchmarks/scale.py

clean:
	rm -rf $(VENV) .pytest_cache build dist
