# The two commands: `make up` runs the platform, `make test` runs every test. Both set themselves up
# from nothing but Python 3.11 and the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROJECTS := libs/events libs/runtime libs/devstack \
	services/catalog services/submission services/review services/award services/licensure services/canary services/portal
PYPROJECTS := $(addsuffix /pyproject.toml,$(PROJECTS))

.PHONY: install up test lint schemas observability dashboards k8s crd-schemas bench bench-upload bench-signing clean

$(BIN)/.installed: $(PYPROJECTS) constraints.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt $(addprefix -e ,$(PROJECTS)) -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

up: install
	$(BIN)/microcred up

test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy libs/*/src services/*/src
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy libs/*/src services/*/src

schemas: install
	$(BIN)/python -m microcred.events.snapshots

# Regenerates the Grafana dashboards and Prometheus rules (deploy/observability) from their Python source;
# tests/observability fails when the committed files differ from what this writes.
observability: install
	cd deploy/observability && ../../$(BIN)/python -m opsgen

dashboards: observability

# Regenerates the components that follow from the code (deploy/k8s/components/strimzi, state-agencies, autoscaling
# and cloudnative-pg: Kafka, topics, users, each service's scaler and database) from libs/events, each service's
# topics.py and deploy/k8s/k8sgen's templates; tests/deploy fails when the committed files differ from this.
k8s: install
	cd deploy/k8s && ../../$(BIN)/python -m k8sgen

# Installs the pinned operators' CRD schemas (npm packages locked in deploy/k8s/schemas/package-lock.json) and
# rewrites their provenance (deploy/k8s/schemas/*/SOURCES.md, kinds.json); tests/deploy fails when they differ.
crd-schemas: install
	cd deploy/k8s/schemas && npm ci --no-audit --no-fund && ../../../$(BIN)/python sources.py

# The whole pipeline under load on a throwaway platform: N submissions (default 1,000) from upload to state
# credit, with reviewers and a district approving; writes benchmarks/results/pipeline-<N>.json and charts in
# benchmarks/results/pipeline/. BENCH_ARGS="--sizes 200,1000" for a growth curve, "--rate 20" for latency.
bench: install
	$(BIN)/python benchmarks/pipeline $(BENCH_ARGS)

# Presigned multipart evidence upload against a direct S3 client on a throwaway platform; writes
# benchmarks/results/upload_throughput.json. Pass options with BENCH_ARGS="--size-mb 64 --repeat 2".
bench-upload: install
	$(BIN)/python benchmarks/upload_throughput.py $(BENCH_ARGS)

# Our eddsa-rdfc-2022 signing and verification against Digital Bazaar's, in one run on this machine
# (needs node and npm); writes benchmarks/results/credential_signing.json. BENCH_ARGS="-n 1000" runs longer.
bench-signing: install
	$(BIN)/python benchmarks/credential_signing.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .microcred
