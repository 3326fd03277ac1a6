# Two commands for a newcomer: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint check bench clean

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e .
	@touch $@

$(TSTAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip
	@$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP) $@

run: $(STAMP)
	@$(BIN)/supportbot run

test: $(TSTAMP)
	@$(BIN)/python -m pytest

lint: $(TSTAMP)
	$(BIN)/ruff check supportbot tests benchmarks
	$(BIN)/ruff format --check supportbot tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

check: $(STAMP)
	@$(BIN)/supportbot check

bench: $(TSTAMP)
	@$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
