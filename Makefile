# The few verbs a newcomer needs. Everything installs into .venv; state lives in .finance_recon/
# (override with FINANCE_RECON_HOME).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV))/bin
PYTHON ?= python3
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_VERSION_CHECK := false

.PHONY: install install-full prepare demo run test dev lint format system-deps services services-stop trino-catalogs bench bench/extract bench/reconcile bench/e2e bench/smoke clean

# The default install is the embedded path (no PySpark, dbt-spark, dbt-trino, dagster-postgres);
# `install-full` adds every extra the tests, lint and benchmarks need (`.[dev,spark,trino,deploy]`).
FULL_EXTRAS := dev,spark,trino,deploy

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

install-full: $(VENV)/.installed-full

$(VENV)/.installed-full: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[$(FULL_EXTRAS)]"
	touch $@

# Parse the dbt project into a fresh manifest (never a committed one).
prepare: install
	PATH="$(BIN):$$PATH" $(BIN)/dagster-dbt project prepare-and-package --file finance_recon/reconciliation/project.py

demo: prepare
	$(BIN)/finance-recon demo

run: prepare
	$(BIN)/finance-recon run

system-deps:
	bash scripts/install-system-deps.sh

# MariaDB (3306), PostgreSQL (5432) and Trino 476 (FINANCE_RECON_TRINO_PORT, 8080) on loopback: installs what
# is missing, starts what is not running, leaves the rest alone (scripts/services.sh says where each
# keeps its data, log and pid file). `services-stop` stops only what `services` started.
services: install system-deps
	PYTHON=$(abspath $(PY)) bash scripts/services.sh start

services-stop:
	bash scripts/services.sh stop

# deploy/trino/etc/catalog for the compose stack, from the same template the local server uses.
trino-catalogs: install
	rm -f deploy/trino/etc/catalog/*.properties
	$(PY) -m finance_recon.trino.catalogs render --compose --out deploy/trino/etc/catalog

test: install-full prepare system-deps services
	$(BIN)/lint-imports
	@# Three workers on two cores: much of the suite waits (drills waiting out an SLA, the freshness
	@# daemon, dagster dev starting, Trino). loadfile keeps each test module (and its module-scoped deployment) on one worker, in
	@# order. (loadgroup would group whole packages, but xdist 3.8 cannot tag node ids under pytest 9.2.)
	$(PY) -m pytest -n 3 --dist loadfile --durations=25

# The Dagster UI (webserver + daemon) on 127.0.0.1:3000.
dev: prepare
	export DAGSTER_HOME="$$($(PY) -c 'from finance_recon.settings import ensure_dagster_home, load_settings; print(ensure_dagster_home(load_settings()))')" && \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${PORT:-3000}

lint: install-full
	$(BIN)/ruff check finance_recon tests bench jobs
	$(BIN)/ruff format --check finance_recon tests bench jobs

format: install-full
	$(BIN)/ruff format finance_recon tests bench jobs
	$(BIN)/ruff check --fix finance_recon tests bench jobs

bench: bench/extract bench/reconcile bench/e2e

bench/extract: install-full prepare
	$(PY) -m bench.extract

bench/reconcile: install-full prepare
	$(PY) -m bench.reconcile

bench/e2e: install-full prepare
	$(PY) -m bench.e2e

# The e2e harness at 300 orders (real MariaDB/PostgreSQL): proves it runs, asserts no timing.
bench/smoke: install-full prepare
	$(PY) -m pytest -m bench tests/bench

clean:
	rm -rf .finance_recon dbt_project/target dbt_project/logs
