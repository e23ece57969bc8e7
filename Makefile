# dnsfence developer tasks. Needs only GNU make and python3 >= 3.11 on a fresh clone.
#
#   make venv    .venv with the package (editable) and its test tools
#   make run     dnsfence serve on 127.0.0.1:5353 with ./blocklists  (ARGS="--upstream ...")
#   make report  dnsfence report from the query log `make run` writes  (ARGS="--html r.html")
#   make test    lint, then the whole test suite
#   make lint    ruff + mypy + the import layers only
#   make bench   bench/run.sh
#   make fuzz    a million fuzzed inputs each for the packet reader and the whole chain
#                (FUZZ_RUNS=..., FUZZ_ARGS="-max_total_time=600 ..."; ~15 min on 2 cores)
#   make soak    10 minutes of mixed traffic at 80 % of one worker's capacity, 609k-name
#                list, query log on (SOAK_MINUTES=...; needs dnsperf, unbound, the corpora)
#   make clean   caches and build output (distclean also removes .venv)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Touched after a successful install: pip runs again only when pyproject.toml is newer.
STAMP := $(VENV)/.installed
# ruff refuses paths that do not exist, and bench/ may not exist yet.
LINT_PATHS := $(wildcard resolver tests bench fuzz)
ARGS ?=
PYTEST_ARGS ?=
FUZZ_RUNS ?= 1000000
FUZZ_ARGS ?=
SOAK_MINUTES ?= 10

.PHONY: venv run report test lint ruff mypy layers pytest bench fuzz soak clean distclean

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"dnsfence needs Python >= 3.11, but $(PYTHON) is " + sys.version.split()[0] + \
		"; run: make PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e '.[test]'
	@touch $@

run: venv
	$(BIN)/dnsfence serve $(ARGS)

report: venv
	$(BIN)/dnsfence report $(ARGS)

test: lint pytest

lint: ruff mypy layers

ruff: venv
	$(BIN)/ruff check $(LINT_PATHS)

# pyproject's [tool.importlinter]: which layer may import which.
layers: venv
	$(BIN)/lint-imports

# No arguments: pyproject's [tool.mypy] names the files (resolver).
mypy: venv
	$(BIN)/mypy

# pytest exits 5 when it collects no test; that is a failure here, never a pass.
pytest: venv
	@rc=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make: pytest collected no tests; failing" >&2; fi; \
	exit $$rc

bench: venv
	@if [ -f bench/run.sh ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" bash bench/run.sh; \
	else \
		echo "make bench: bench/run.sh does not exist yet; nothing to run"; \
	fi

# Each target stops at its first finding and leaves the input in build/fuzz/TARGET/crash-*;
# `.venv/bin/python -m fuzz TARGET build/fuzz/TARGET/crash-...` runs it again.
fuzz: venv
	$(BIN)/python -m fuzz parser -runs=$(FUZZ_RUNS) $(FUZZ_ARGS)
	$(BIN)/python -m fuzz chain -runs=$(FUZZ_RUNS) $(FUZZ_ARGS)

soak: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench.soak --minutes $(SOAK_MINUTES)

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
