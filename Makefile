# The two commands a user needs: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv

IMAGE_TEST_TOOLS := $(VENV)/image-test-tools
SEED_IMAGE := 1.9-0

.PHONY: install test test-root test-modelbuild test-modelbuild-image test-modeldeploy demo lint synth publish bench clean

install: $(STAMP)

# Re-runs only when the pinned dependencies (or the images' table) change; a second `make install` is a no-op.
# uv (pinned, from PyPI) installs the pinned dependencies into a venv of this machine's Python: it
# never downloads a Python, and the editable install is setuptools' compat mode (a .pth naming the
# repository folder), through which the sandboxed programs import `localcloud`. The venv keeps its
# own pip: builds run `pip install -r requirements.txt` against it. Sandboxed programs see the venv
# read-only, so its bytecode is compiled here, except for packages only the host imports (the CDK,
# cfn-lint and sympy, which only cfn-lint uses) or nothing imports (mlflow, a dependency of the
# SageMaker SDK's metadata): the host compiles what it uses of those on first import.
# The Debian packages (bubblewrap, slirp4netns) install in the background meanwhile. Last, the seed's
# scikit-learn image (its Python and libraries, for jobs and model servers) is prepared in the images
# cache (localcloud images prepare), so that `make demo` runs offline after install.
$(STAMP): pyproject.toml localcloud/services/sagemaker/images/table.py
	@set -euo pipefail; start=$$SECONDS; \
	step() { echo "==> make install [$$((SECONDS - start))s] $$*"; }; \
	if [ -x $(PY) ]; then step "venv: $(VENV) exists"; \
	else step "venv: creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi; \
	step "Debian packages: bubblewrap, slirp4netns (in the background)"; \
	bash localcloud/tools/ensure-bubblewrap.sh > $(VENV)/.debian-packages.log 2>&1 & debian=$$!; \
	trap 'wait $$debian 2>/dev/null' EXIT; \
	if [ "$$($(UV) --version 2>/dev/null | cut -d' ' -f2)" = $(UV_VERSION) ]; then step "installer: uv $(UV_VERSION) is there"; \
	else step "installer: uv $(UV_VERSION) (with the venv's pip)"; \
	  $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); fi; \
	step "dependencies: pyproject.toml's pins (uv)"; \
	UV_PYTHON_DOWNLOADS=never $(UV) pip install --python $(PY) -e ".[dev]" --config-setting editable_mode=compat \
	  2>&1 | { grep -Ev '^ *([-+~] |Downloading |Downloaded |Building |Built )' || true; }; \
	step "bytecode: compiling what sandboxed programs import"; \
	$(PY) -m compileall -qq -j 0 -x '/site-packages/(aws_cdk|cfnlint|sympy|mlflow)/' $(VENV)/lib || true; \
	step "Debian packages: waiting"; \
	rc=0; wait $$debian || rc=$$?; sed 's/^/    /' $(VENV)/.debian-packages.log; \
	[ $$rc -eq 0 ] || { echo "make install: localcloud/tools/ensure-bubblewrap.sh failed" >&2; exit $$rc; }; \
	step "image: scikit-learn $(SEED_IMAGE) for jobs and model servers (built once, kept in the images cache)"; \
	$(PY) -m localcloud.tools.cli images prepare --quiet $(SEED_IMAGE) | sed 's/^/    /'; \
	touch $(STAMP); \
	step "done: a second make install does nothing until pyproject.toml or the images table changes"

test: test-root test-modelbuild test-modelbuild-image test-modeldeploy

test-root: install
	$(PY) -m pytest -q -n 2 --dist loadfile tests

test-modelbuild: install
	cd modelbuild && ../$(PY) -m pytest -q

# The step scripts' tests again, on the Python and libraries of the image the pipeline names (its
# environment, plus pytest in a folder of its own): what passes here passes in the jobs.
test-modelbuild-image: install
	@set -euo pipefail; python=$$($(PY) -m localcloud.tools.cli images python $(SEED_IMAGE)); \
	if [ ! -d $(IMAGE_TEST_TOOLS) ]; then \
	  $$python -m pip install --quiet --disable-pip-version-check --target $(IMAGE_TEST_TOOLS).tmp \
	    "$$(grep -E '^pytest==' modelbuild/requirements-image.txt)" 2>&1 | { grep -v '^WARNING: Location' || true; }; \
	  mv $(IMAGE_TEST_TOOLS).tmp $(IMAGE_TEST_TOOLS); fi; \
	cd modelbuild && PYTHONPATH=../$(IMAGE_TEST_TOOLS) $$python -m pytest -q -p no:cacheprovider tests/scripts

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
	$(PY) bench/state_scale.py
	$(PY) bench/deploy_under_load.py
	$(PY) bench/data_arrival.py

clean:
	rm -rf cdk.out dist .localcloud
