# vectorops: `make run` runs the platform, `make test` runs the suite. Both install first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
ROWS ?= 200000

.PHONY: install chromium redis run test lint typecheck bench bench-pitr bench-scaling chaos db-up db-down clean fixtures

install: $(STAMP)

# The headless browser of the e2e tests: Debian's chromium (Playwright drives it; it downloads no browser).
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

# The Celery broker of the scaled-out e2e test (tests/e2e/test_celery.py): Debian's redis-server, started by the test
# on a free loopback port with a password; the package's own service is not used.
redis:
	@command -v redis-server >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "vectorops needs Python 3.11 (the local torch wheel is cp311)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: install
	$(BIN)/vectorops run

# lint-imports: the layering contracts in pyproject.toml ([tool.importlinter]); mypy: [tool.mypy] there.
test: install chromium redis
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -n 2

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# mypy on the package ([tool.mypy] in pyproject.toml: strict for the modules listed there).
typecheck: install
	$(BIN)/mypy

# Bench-only extras (profiler, int8 export backends): never needed by the platform or the tests.
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-bench.txt -c constraints.txt
	touch $(BENCH_STAMP)

bench: install $(BENCH_STAMP)
	$(BIN)/python bench/run_bench.py $(if $(QUICK),--rows 20000 --runs $(or $(BENCH_RUNS),1) --pipeline-runs 3,--rows $(ROWS))

# Point-in-time recovery (issue 24): a 200k migration with the WAL archive on and off, the RPO under a steady write
# load, and a recovery to a point in time (about 17 minutes; figures in bench/ANALYSIS.md).
bench-pitr: install
	$(BIN)/python bench/pitr_bench.py --rows $(ROWS)

# The capacity model of docs/scaling.md (issue 25): per-chunk load rate and HNSW build time and memory against rows
# and dimensions, and concurrent loaders into one server (about 22 minutes, 5 more to seed its stores the first time).
bench-scaling: install
	$(BIN)/python bench/scaling_bench.py

# Fault injection at scale: 20 SIGKILLs of a 100k-row migration at random points, each rerun and checked (issue 7).
KILLS ?= 20
CHAOS_ROWS ?= 100000
chaos: install
	$(BIN)/python -m tests.faults.chaos --kills $(KILLS) --rows $(CHAOS_ROWS)

db-up: install
	$(BIN)/vectorops db up

db-down: install
	$(BIN)/vectorops db down

clean:
	-$(BIN)/vectorops db down
	rm -rf .vectorops tests/artifacts .pytest_cache

# The fixture Chroma stores under tests/fixtures/stores, each written by the real chromadb release it stands for
# (one venv per release under .scratch/chroma-venvs; PyPI is needed the first time). FIXTURE_VERSIONS="0.6.3 1.5.9" picks some.
fixtures:
	$(PYTHON) tests/fixtures/stores/make_stores.py $(if $(FIXTURE_VERSIONS),--versions $(FIXTURE_VERSIONS))
