# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# A demo key so the README's curl examples work as written; never use it in production.
DEMO_KEY ?= demo-key

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The sales demo: seeds 90 days of simulated calls (first run only), serves the API and
# streams live calls. Plain server without the demo: .venv/bin/contextsvc serve
run: $(STAMP)
	@mkdir -p var
	CONTEXTSVC_API_KEYS=$${CONTEXTSVC_API_KEYS:-$(DEMO_KEY)} $(BIN)/simulator demo --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.context
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
