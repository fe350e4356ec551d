# sextant's one development entry point. `make` (or `make help`) lists the targets.
#
# `make test` is what CI runs (.ci/run): it installs what the tests need, idempotently,
# then runs every check. Nothing else has to be set up by hand.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export CARGO_TERM_COLOR ?= never

.PHONY: help run test lint fmt clippy doc rust-test python-install python-test notebook-test e2e e2e-deps ops-deps ops-test bench python-bench

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Serve the embedded wine model on 127.0.0.1:3000 (same as `cargo run --release -- serve`)
	cargo run --release -- serve

test: lint rust-test python-test notebook-test ops-test e2e ## Run every check and test (what CI runs)

lint: fmt clippy doc ## Formatting, clippy with -D warnings, rustdoc with -D warnings

fmt: ## Check formatting
	cargo fmt --all -- --check

clippy: ## Lint every crate and target, warnings as errors
	cargo clippy --workspace --all-targets -- -D warnings

doc: ## Build the API docs, warnings as errors
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

rust-test: ## Rust unit, integration, property and doc tests
	cargo test --workspace
	cargo test -p sextant --features image --lib image::

# The project virtualenv, remade only when the requirements change.
$(VENV)/.installed: python/requirements-dev.txt tests/e2e/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r python/requirements-dev.txt -r tests/e2e/requirements.txt
	touch $@

# Debian packages the end-to-end tests run for real: Prometheus (promtool) and Chromium.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
e2e-deps: ## Install Prometheus and Chromium from Debian's packages (skipped when present)
	@if command -v promtool >/dev/null && command -v chromium >/dev/null; then \
		echo "promtool and chromium already installed"; \
	else \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus chromium; \
	fi

# Built and installed the way a user does it; reinstalled only when its sources change.
PY_SOURCES := $(shell find python/src python/sextant profiler/src -type f) python/Cargo.toml python/pyproject.toml profiler/Cargo.toml Cargo.lock
$(VENV)/.sextant-installed: $(VENV)/.installed $(PY_SOURCES)
	$(PY) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python
	touch $@

python-install: $(VENV)/.sextant-installed ## Build the Python package and pip-install it into .venv

python-test: python-install ## pytest (exact numpy/scipy oracles, CLI interop, a real server) and doctests
	cd $(VENV) && bin/python -m pytest -c ../python/pyproject.toml --rootdir ../python \
		../python/tests --ignore=../python/tests/notebook --doctest-modules --pyargs sextant

notebook-test: python-install ## Execute python/examples/compare_to_baseline.ipynb against a server the test starts
	cd $(VENV) && bin/python -m pytest -c ../python/pyproject.toml --rootdir ../python \
		../python/tests/notebook

# npm packages for the dashboard type check and the prometheus-operator models, into a
# git-ignored dashboards/check/node_modules; reinstalled only when the lockfile changes.
OPS_NODE := dashboards/check/node_modules/.installed
$(OPS_NODE): dashboards/check/package.json dashboards/check/package-lock.json
	cd dashboards/check && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ops-deps: $(OPS_NODE) ## npm packages for the ops checks (skipped when installed)

ops-test: e2e-deps ops-deps $(VENV)/.installed ## Dashboards, alert rules and Kubernetes manifests, checked by the real tools
	$(PY) -m pytest tests/ops -q

e2e: e2e-deps $(VENV)/.installed ## End-to-end: the real binary under promtool, headless Chromium, Prometheus and Locust
	cargo build --bin sextant
	$(PY) -m pytest tests/e2e -q

bench: ## Criterion benches (figures go in benches/RESULTS.md)
	cargo bench -p sextant-benches

python-bench: ## sextant vs whylogs side by side, in its own venv (not part of CI)
	$(MAKE) -C benches/python
