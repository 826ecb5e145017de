# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# A demo key so the README's curl examples work as written; never use it in production.
DEMO_KEY ?= demo-key

.PHONY: run test test-fast lint bench loadtest loadtest-ui clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,loadtest,lint]'
	touch $(STAMP)

# The sales demo: seeds 90 days of simulated calls (first run only), serves the API and
# streams live calls. Plain server without the demo: .venv/bin/contextsvc serve
run: $(STAMP)
	@mkdir -p var
	CONTEXTSVC_API_KEYS=$${CONTEXTSVC_API_KEYS:-$(DEMO_KEY)} CONTEXTSVC_LOG_FORMAT=$${CONTEXTSVC_LOG_FORMAT:-console} \
		$(BIN)/simulator demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

# The developer loop: everything but the tests that start processes, TLS servers, a
# browser or the simulator (marked live). Under three minutes on two cores.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not live"

# The checked contracts: lint and formatting (ruff) and types (mypy), as CI runs them.
lint: $(STAMP)
	$(BIN)/ruff check contextsvc simulator loadtests bench tests
	$(BIN)/ruff format --check contextsvc simulator loadtests bench tests
	$(BIN)/mypy

# Every performance target in one run, side by side (about 10 minutes; builds a
# 1M-call database under var/bench/ on first use). Installs wrk if missing.
bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.writer
	$(BIN)/python -m bench.salesforce_sync
	$(BIN)/python -m bench.segments
	$(BIN)/python -m bench.quality

# A fresh seeded service under Locust for a fixed time, then verification; fails on any
# SLO breach. PROFILE=smoke (30 s, runs in CI) | standard (120 s) | stress (120 s, 3x).
PROFILE ?= smoke
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run --profile $(PROFILE)

# The same users in Locust's web UI (http://127.0.0.1:8089), for demos.
loadtest-ui: $(STAMP)
	$(BIN)/python -m loadtests.run --profile $(PROFILE) --ui

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
