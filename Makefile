# The two commands a user needs: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install test test-root test-modelbuild test-modeldeploy demo lint synth publish bench clean

install: $(STAMP)

# Re-runs only when the pinned dependencies change; a second `make install` is a no-op.
$(STAMP): pyproject.toml
	@bash localcloud/tools/ensure-bubblewrap.sh
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]" --config-settings editable_mode=compat
	@touch $(STAMP)

test: test-root test-modelbuild test-modeldeploy

test-root: install
	$(PY) -m pytest -q tests

test-modelbuild: install
	cd modelbuild && ../$(PY) -m pytest -q

test-modeldeploy: install
	cd modeldeploy && ../$(PY) -m pytest -q

demo: install
	$(PY) -m localcloud.tools.demo

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

synth: install
	$(PY) -m service_catalog.synth

publish: install
	$(PY) -m service_catalog.publish

bench: install
	$(PY) bench/modelbuild_steps.py
	$(PY) bench/pipeline_overhead.py
	$(PY) bench/endpoint.py
	$(PY) bench/e2e.py

clean:
	rm -rf cdk.out dist .localcloud
