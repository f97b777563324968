# Quarantine developer entry points. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: help install controlplane cluster-up cluster-down cluster-status test test-unit test-cluster lint format typecheck crds demo demo-down bench

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(BIN)/quarantine: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/quarantine ## create .venv with the package (editable) and dev tools

controlplane: ## build (or reuse from cache) etcd, Kubernetes, kwok and helm
	hack/build-controlplane.sh

cluster-up: install controlplane ## start the local control plane (.cluster/kubeconfig)
	$(BIN)/python hack/localcluster.py up

cluster-down: ## stop exactly the processes cluster-up started
	$(BIN)/python hack/localcluster.py down

cluster-status: ## say whether the local control plane runs
	$(BIN)/python hack/localcluster.py status

test: install controlplane ## run every test: lint, types, unit, conformance, cluster
	$(BIN)/ruff check operator tests hack benchmarks
	$(BIN)/ruff format --check operator tests hack benchmarks
	$(BIN)/mypy
	$(BIN)/mypy benchmarks
	$(BIN)/pytest tests

test-unit: install ## run the fast tests (no cluster)
	$(BIN)/pytest tests/unit tests/conformance

test-cluster: install controlplane ## run the cluster tests only
	$(BIN)/pytest tests/cluster

lint: install ## ruff and mypy
	$(BIN)/ruff check operator tests hack benchmarks
	$(BIN)/ruff format --check operator tests hack benchmarks
	$(BIN)/mypy
	$(BIN)/mypy benchmarks

format: install ## ruff format and autofix
	$(BIN)/ruff format operator tests hack benchmarks
	$(BIN)/ruff check --fix operator tests hack benchmarks

crds: install ## regenerate crds/ and the chart's CRDs from the models
	$(BIN)/quarantine crds --output-dir crds
	$(BIN)/quarantine crds --output-dir charts/quarantine/crds

demo: install controlplane ## the end-to-end demo on the local control plane
	$(BIN)/python hack/demo.py up

demo-down: ## stop everything the demo started
	$(BIN)/python hack/demo.py down

bench: install ## run the benchmarks (EQL engine, HTTP ingest, detection pipeline)
	$(BIN)/python benchmarks/bench_eql.py
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_pipeline.py --layout nested
