# The two jobs a newcomer needs, each from a fresh clone with only Python 3.11:
#   make demo   set up .venv and run the demo pipeline (pipelines/demo.yaml) on corpora/demo
#   make test   set up .venv and run the default test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is pinned here (the CPU build); the package itself asks only for a range.
TORCH ?= torch==2.13.0

.PHONY: setup demo test test-all lint

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: setup
	$(BIN)/nlp-rnn run pipelines/demo.yaml

test: setup
	$(BIN)/python -m pytest -m "not slow" -q

test-all: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check nlp_rnn tests scripts
