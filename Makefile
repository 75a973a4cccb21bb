# Two commands on a fresh machine: `make demo` (set up, run the main job) and `make test`
# (set up, lint, type-check, run the tests). Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.rsvl-installed
# Every pip call is pinned to the CPU torch stack (see constraints.txt).
PIP := $(BIN)/python -m pip install --quiet --constraint constraints.txt
# Tests never wait on a model or dataset hub.
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) 'torch==2.13.0+cpu' >$(VENV)/pip.log 2>&1 || { grep -v 'is ignored' $(VENV)/pip.log; exit 1; }
	$(PIP) -e '.[dev]' >$(VENV)/pip.log 2>&1 || { grep -v 'is ignored' $(VENV)/pip.log; exit 1; }
	$(BIN)/python -m rsvl.env install
	touch $(STAMP)

demo: setup
	$(OFFLINE) $(BIN)/rsvl demo

lint: setup
	$(BIN)/ruff check rsvl tests data_builders train eval bench
	$(BIN)/mypy rsvl

test: lint
	$(OFFLINE) $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
