# hologram: every target sets up what it needs, starting from Python 3 and make.
#
#   make demo    create .venv, install hologram, run the demo
#   make test    create or update .venv with the dev extras, run the tests, then the linters
#
# `make help` lists the rest.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# pytest-xdist workers; `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= auto
PY_SOURCES := src tests examples benchmarks
BENCH_ARGS ?=

# Compiled kernels (Numba's disk cache) are kept under the repository, shared by the test
# workers and reused by later runs; a HOLOGRAM_CACHE_DIR from the environment wins.
export HOLOGRAM_CACHE_DIR ?= $(CURDIR)/.cache/hologram

BASE_STAMP := $(VENV)/.installed-base
DEV_STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help

.PHONY: help
help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-10s %s\n", $$1, $$2}'

# ------------------------------------------------------------------ environments
# A stamp records that the installed environment matches pyproject.toml; editing
# pyproject.toml makes it stale and the next target reinstalls.
$(PY):
	@$(PYTHON) -m venv $(VENV) || { \
		echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3-venv." >&2; \
		exit 1; }

$(BASE_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@ $(BASE_STAMP)

.PHONY: install dev
install: $(BASE_STAMP)  ## Create .venv with hologram installed (editable).
dev: $(DEV_STAMP)  ## Create .venv with hologram and the dev tools.

# ------------------------------------------------------------------ main targets
.PHONY: demo
demo: $(BASE_STAMP)  ## Compile a small ONNX model, run it on the best backend, check and time it.
	$(PY) -m hologram.demo_onnx

.PHONY: test
test: $(DEV_STAMP)  ## Run the whole test suite (ONNX node tests on the cpu backend), then the linters.
	HOLOGRAM_NODE_BACKEND=cpu $(PY) -m pytest -n $(PYTEST_WORKERS) -q
	$(MAKE) --no-print-directory lint

.PHONY: conformance
conformance: $(DEV_STAMP)  ## Run onnx's backend node tests on the cpu backend (NODE_BACKEND=... for another).
	HOLOGRAM_NODE_BACKEND=$(or $(NODE_BACKEND),cpu) $(PY) -m pytest -n $(PYTEST_WORKERS) -q tests/onnx/test_node_conformance.py

.PHONY: fast-test
fast-test: $(DEV_STAMP)  ## Run the tests not marked slow.
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q -m "not slow"

.PHONY: lint
lint: $(DEV_STAMP)  ## ruff check and ruff format --check.
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)

.PHONY: format
format: $(DEV_STAMP)  ## Format the code and apply ruff's safe fixes.
	$(BIN)/ruff format $(PY_SOURCES)
	$(BIN)/ruff check --fix $(PY_SOURCES)

.PHONY: docs-check
docs-check: $(DEV_STAMP)  ## Check the docs: navigation pages exist, quickstart code runs.
	$(PY) -m pytest -q -p no:xdist tests/test_docs.py

.PHONY: bench
bench: $(BASE_STAMP)  ## Benchmark the ops against NumPy (BENCH_ARGS="--sizes 1e6 --ops add").
	$(PY) benchmarks/ops.py $(BENCH_ARGS)

.PHONY: clean
clean:  ## Remove .venv, caches and build outputs.
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .hypothesis build dist src/*.egg-info
	find . -path ./.git -prune -o \( -name __pycache__ -o -name .hypothesis \) -type d \
		-prune -exec rm -rf {} +
