# Two entry points: `make demo` runs the main job on the built-in defaults,
# `make test` runs the test suite. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# torch is pinned here, not in pyproject.toml. On this project's machines torch==2.13.0
# resolves to a CPU wheel on local disk; elsewhere PyPI serves a CUDA build, so pass
# TORCH_SPEC="torch==2.13.0 --index-url URL" with PyTorch's CPU wheel index for the CPU one.
# Users on GPUs install their own torch first and set TORCH_SPEC="torch".
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/nncaption search --run-dir runs/demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) runs .cache
