# dnsfence developer tasks. Needs only GNU make and python3 >= 3.11 on a fresh clone.
#
#   make venv    .venv with the package (editable) and its test tools
#   make run     dnsfence serve on 127.0.0.1:5353 with ./blocklists  (ARGS="--upstream ...")
#   make report  dnsfence report from the query log `make run` writes  (ARGS="--html r.html")
#   make build   the compiled parts in place: the UDP batch (resolver/_udp_batch.c) and the
#                hot modules (mypyc, from the same Python source); without a C compiler
#                dnsfence runs as pure Python, and this says so. After editing a hot module,
#                run it again: until then the source runs (resolver/compiled_modules.py)
#   make test    lint, build, then the whole test suite; when anything is compiled, the
#                whole suite once more on the pure-Python path (DNSFENCE_PURE_PYTHON=1)
#   make lint    ruff + mypy + the import layers only
#   make bench   bench/run.sh
#   make fuzz    a million fuzzed inputs each for the packet reader and the whole chain
#                (FUZZ_RUNS=..., FUZZ_ARGS="-max_total_time=600 ..."; ~15 min on 2 cores)
#   make soak    10 minutes of mixed traffic at 80 % of one worker's capacity, 609k-name
#                list, query log on (SOAK_MINUTES=...; needs dnsperf, unbound, the corpora)
#   make clean   caches and build output, compiled modules included (distclean: .venv too)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Touched after a successful install: pip runs again only when pyproject.toml is newer.
STAMP := $(VENV)/.installed
# Touched after `make build`: it runs again when the C source or setup.py is newer.
BUILT := $(VENV)/.built
# ruff refuses paths that do not exist, and bench/ may not exist yet.
LINT_PATHS := $(wildcard resolver tests bench fuzz)
ARGS ?=
PYTEST_ARGS ?=
FUZZ_RUNS ?= 1000000
FUZZ_ARGS ?=
SOAK_MINUTES ?= 10

.PHONY: venv build run report test lint ruff mypy layers pytest pytest-pure bench fuzz soak \
	clean distclean

venv: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"dnsfence needs Python >= 3.11, but $(PYTHON) is " + sys.version.split()[0] + \
		"; run: make PYTHON=python3.11 (or newer)")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml setup.py | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet -e '.[test]'
	@touch $@

# Built in place, next to the sources (the C warnings as errors), every time: mypyc turns
# the hot modules into C again and gcc compiles them (about a minute on 2 cores). Then
# checked: both importable and built from the sources beside them (a stale build is never
# used: resolver.udp_batch and resolver.compiled_modules fall back to the Python source).
build: venv
	@rm -f $(BUILT)
	@$(MAKE) --no-print-directory $(BUILT)

$(BUILT): resolver/_udp_batch.c setup.py $(STAMP)
	@if $(BIN)/python -c 'import os, shutil, sys, sysconfig; \
			cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]; \
			headers = os.path.join(sysconfig.get_paths()["include"], "Python.h"); \
			sys.exit(0 if shutil.which(cc) and os.path.exists(headers) else 1)'; then \
		DNSFENCE_COMPILE=1 CFLAGS="-Wall -Wextra -Werror" \
			$(BIN)/python setup.py --quiet build_ext --inplace \
			> >(grep -v -e '^running ' -e '^copying ' -e 'treating generator' >&2) \
			2> >(grep -v -e BetaConfiguration -e 'warnings.warn(msg' \
				-e 'Treating generator comprehension' >&2); \
		$(BIN)/python -c 'import sys; from resolver.udp_batch import compiled; \
			sys.exit(compiled()[1] or None)'; \
		DNSFENCE_PURE_PYTHON= $(BIN)/python -c 'import sys, resolver; \
			print("make build: hot modules", resolver.HOT_MODULES.description); \
			sys.exit(0 if resolver.HOT_MODULES.compiled else 1)'; \
	else \
		echo "make build: no C compiler or Python headers: dnsfence runs as pure Python"; \
	fi
	@touch $@

run: venv
	$(BIN)/dnsfence serve $(ARGS)

report: venv
	$(BIN)/dnsfence report $(ARGS)

test: lint build pytest pytest-pure

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

# Where the compiled parts are built, the first run used them; every install without a
# compiler runs pure Python, so the whole suite runs on that too.
pytest-pure: venv
	@if $(BIN)/python -c 'import resolver._udp_batch' 2>/dev/null \
			|| [ -f resolver/compiled.json ]; then \
		echo "make: the whole suite again on the pure-Python path (DNSFENCE_PURE_PYTHON=1)"; \
		DNSFENCE_PURE_PYTHON=1 $(MAKE) --no-print-directory pytest; \
	fi

bench: build
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
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info \
		resolver/compiled.json $(BUILT)
	find resolver -name '*.so' -delete
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
