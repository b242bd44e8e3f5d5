# Two commands do everything on a fresh machine:
#   make demo   set up .venv and run the main job (the vanishing-gradient report) on built-in data
#   make test   set up .venv with the test extras (and Debian's Chromium for the browser tests), run ruff + pytest
# Setup is idempotent: a stamp file records what was installed and is redone only when pyproject.toml,
# setup.py or the C kernels change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUILD_INPUTS := Makefile pyproject.toml $(wildcard setup.py) $(wildcard src/sigmoidlab/_kernels/*.c src/sigmoidlab/_kernels/*.h)
DEMO_OUT ?= demo-output
PYTEST_ARGS ?=

.PHONY: demo test lint bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=77" wheel "numpy>=1.26"

# The C extension is built in place by an editable install without build isolation, so that a change to a
# kernel only needs this rule to run again.
# The demo's setup installs everything the README's tour uses next: the playground (web), Dask, and PyTorch for
# sigmoidlab.torch (pinned: the CPU wheel of this release is on every machine here; others download gigabytes).
$(VENV)/.stamp-base: $(BIN)/python $(BUILD_INPUTS)
	$(BIN)/pip install --quiet --no-build-isolation -e ".[dask,web,torch]" "torch==2.13.0"
	touch $@

$(VENV)/.stamp-test: $(BIN)/python $(BUILD_INPUTS)
	$(BIN)/pip install --quiet --no-build-isolation -e ".[test]"
	touch $(VENV)/.stamp-base $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: $(VENV)/.stamp-base
	$(BIN)/sigmoidlab demo --out $(DEMO_OUT)

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

test: $(VENV)/.stamp-test chromium lint
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

bench: $(VENV)/.stamp-test
	$(BIN)/sigmoidlab bench --out benchmarks/results

clean:
	rm -rf $(VENV) build src/*.egg-info src/sigmoidlab/_kernels/*.so $(DEMO_OUT)
