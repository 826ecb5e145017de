# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# A demo key so the README's curl examples work as written; never use it in production.
DEMO_KEY ?= demo-key
# A second demo key that may read contexts but not personal data: the console at /demo
# switches to it to show phones and emails masked.
DEMO_MASKED_KEY ?= demo-masked-key
# One rep's logging degrades for the last ten days, so the data-quality panel has an alert.
DEMO_ARGS ?= --set degradation.rep=4 --set degradation.from_day=80
# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
CHROMIUM := /usr/bin/chromium

.PHONY: run run-cluster test test-fast lint screenshots bench loadtest loadtest-ui clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,loadtest,lint]'
	touch $(STAMP)

# The sales demo: seeds 90 days of simulated calls (first run only), serves the API and
# streams live calls. Plain server without the demo: .venv/bin/contextsvc serve
run: $(STAMP)
	@mkdir -p var
	@CONTEXTSVC_API_KEYS=$${CONTEXTSVC_API_KEYS:-$(DEMO_KEY),$(DEMO_MASKED_KEY):context:read} \
		CONTEXTSVC_LOG_FORMAT=$${CONTEXTSVC_LOG_FORMAT:-console} \
		$(BIN)/simulator demo --host $(HOST) --port $(PORT) $(DEMO_ARGS)

# Failover, live: a local PostgreSQL and Redis, two workers seeded like `make run`, live
# calls through both; kill the leader and watch the other take over (devservers/cluster.py).
run-cluster: $(STAMP)
	@$(BIN)/python -m devservers.cluster

# One backend's tier: the in-process tests JOBS at a time (pytest-xdist, a process per
# core), then the live ones one at a time, since they start servers and time failovers.
JOBS ?= 2
TIER = $(BIN)/python -m pytest -m "not live" -n $(JOBS) --backend $(1) && $(BIN)/python -m pytest -m live --backend $(1)

# Every test on SQLite, then every test again on a throwaway PostgreSQL the tests start
# themselves (initdb into a temporary directory), but those marked backend_neutral. Without
# PostgreSQL's binaries the second tier is skipped and says how to enable it; under CI a
# missing PostgreSQL fails.
test: $(STAMP) chromium
	$(call TIER,sqlite)
	@if $(BIN)/python -m devservers.postgres --available; then \
		$(call TIER,postgresql); \
	elif [ "$$CI" = "true" ]; then \
		echo "PostgreSQL tier: no PostgreSQL binaries found (.ci/run installs Debian's postgresql)"; exit 1; \
	else \
		echo "PostgreSQL tier SKIPPED: no initdb found. Install PostgreSQL (Debian: apt-get install postgresql) and run make test again."; \
	fi

# Installed from Debian when missing (CI runs as root on a fresh machine).
# The demo console's screenshots in docs/demo/, as the README shows them, from its browser tests.
screenshots: $(STAMP) chromium
	CONTEXTSVC_SCREENSHOTS=docs $(BIN)/python -m pytest tests/test_demo_console_live.py

chromium:
	@test -x $(CHROMIUM) || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# The developer loop: everything but the tests that start processes, TLS servers, a
# browser or the simulator (marked live). BACKEND=postgresql runs it on PostgreSQL.
BACKEND ?= sqlite
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not live" -n $(JOBS) --backend $(BACKEND)

# The checked contracts, as CI runs them: lint and formatting (ruff) over the code and its
# tests, types (mypy, files and options in pyproject.toml). Each must report nothing.
LINTED := contextsvc simulator loadtests bench devservers tests .ci
lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

# Every performance target in one run, side by side (about 10 minutes; builds a
# 1M-call database under var/bench/ on first use). Installs wrk if missing.
bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.writer
	$(BIN)/python -m bench.salesforce_sync
	$(BIN)/python -m bench.segments
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.quarantine_memory
	$(BIN)/python -m bench.failover
	$(BIN)/python -m bench.workers

# A fresh seeded service under Locust for a fixed time, then verification; fails on any
# SLO breach. PROFILE=smoke (30 s, runs in CI) | standard (120 s) | stress (120 s, 3x).
# WORKERS=2: two workers on the one database, users spread over both (CI runs smoke so).
PROFILE ?= smoke
WORKERS ?= 1
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run --profile $(PROFILE) --workers $(WORKERS)

# The same users in Locust's web UI (http://127.0.0.1:8089), for demos.
loadtest-ui: $(STAMP)
	$(BIN)/python -m loadtests.run --profile $(PROFILE) --ui

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
