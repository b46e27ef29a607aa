# PoseCast developer entry points. `make test` and `make demo` set everything up from scratch.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Data root: ../shared/data when it exists (CI, developer machines); override on the command line.
POSECAST_DATA ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),)
export POSECAST_DATA
export PIP_CONSTRAINT := $(abspath constraints.txt)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install test demo lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: `torch==2.13.0` takes the local CPU wheel; the constraints file keeps it there.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,video,serve]"
	touch $@

install: $(VENV)/.installed

# Two worker processes (pytest-xdist), each test file on one of them: the suite takes about 60 % of one process's time
# on the 2 CI cores.
test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadfile

demo: install
	$(BIN)/posecast demo

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/bvh_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .ruff_cache
