# Ozymandias: common tasks.  Run as root on Debian 12; `make setup` prepares
# the machine (idempotent, about a second once done).
#
#   make setup        packages, podman config, .venv, example images
#   make demo         a one-node cluster running examples/simple-webapp.yaml
#   make test         lint + type check + every test (what CI runs)
#   make lint         ruff and mypy only
#   make unit         unit tests only (no etcd or podman needed)
#   make integration  integration tests only
#   make multihost    tests on sandboxed hosts: failover, partitions, etcd loss
#   make bench        the benchmarks in bench/ (BENCH=script BENCH_ARGS=...)
#   make images       rebuild the example images if their sources changed
#   make images-test  check the example images' behaviour
#   make clean        remove caches (keeps .venv and images)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# e.g. make bench BENCH=bench/placement_compute.py BENCH_ARGS=--small
BENCH ?= $(sort $(wildcard bench/*.py))
BENCH_ARGS ?=

.PHONY: help setup demo test lint unit integration multihost bench images images-test clean

help:
	@sed -n '4,15s/^#   /  /p' $(firstword $(MAKEFILE_LIST))

setup:
	bash setup/setup.sh

demo: setup
	$(BIN)/ozy demo

# Runs every stage even when an earlier one fails, so one CI run reports all
# problems; fails at the end if any stage failed.
test: setup
	@failed=""; \
	echo "== ruff"; $(BIN)/ruff check src tests bench || failed="$$failed ruff"; \
	echo "== mypy"; $(BIN)/mypy || failed="$$failed mypy"; \
	echo "== pytest"; $(BIN)/pytest -q $(PYTEST_ARGS) || failed="$$failed pytest"; \
	if [ -n "$$failed" ]; then echo "make test: FAILED:$$failed"; exit 1; fi; \
	echo "make test: all passed"

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

unit: setup
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

integration: setup
	$(BIN)/pytest -q tests/integration $(PYTEST_ARGS)

multihost: setup
	$(BIN)/pytest -q tests/multihost $(PYTEST_ARGS)

bench: setup
	@[ -n "$(strip $(BENCH))" ] || { echo "no scripts in bench/"; exit 0; }
	@for script in $(BENCH); do \
		echo "== $$script $(BENCH_ARGS)"; \
		$(BIN)/python "$$script" $(BENCH_ARGS); \
	done

images:
	bash examples/images/build.sh

images-test: images
	bash examples/images/smoke-test.sh

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	find src tests bench -name __pycache__ -type d -prune -exec rm -rf {} +
