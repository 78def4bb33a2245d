# Two entry points for a fresh machine with Python 3.11 and make: `make demo` and `make test`.
# uv comes from the package index when it is not on PATH; it never downloads a Python.
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV ?= $(shell command -v uv 2>/dev/null || echo $(TOOLS)/bin/uv)
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')

.PHONY: demo test lint typecheck unit sync bench clean

$(TOOLS)/bin/uv:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --locked --all-extras
	@touch $@

sync: .venv/.synced

demo: .venv/.synced
	$(UV) run --no-sync flowretail demo

lint: .venv/.synced
	$(UV) run --no-sync ruff check .
	$(UV) run --no-sync ruff format --check .

typecheck: .venv/.synced
	$(UV) run --no-sync mypy

unit: .venv/.synced
	$(UV) run --no-sync pytest $(PYTEST_ARGS)

test: lint typecheck unit

bench: .venv/.synced
	$(UV) run --no-sync python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf .venv $(TOOLS) build .pytest_cache .mypy_cache .ruff_cache
