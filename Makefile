# Two commands on a fresh machine: `make run` (product on localhost:8000) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
ADMIN_PASSWORD ?= Admin\#2026
HOST ?= 127.0.0.1
PORT ?= 8000
NPM ?= npm
PYTEST_ARGS ?=
# The BPMN modeler page (/admin/modeler): npm packages -> esbuild bundle in service/static/modeler/ (not committed).
NPM_STAMP := node_modules/.orglife-npm-ci
FRONTEND_STAMP := service/static/modeler/.built
FRONTEND_SRC := $(shell find frontend -type f 2>/dev/null)
HAVE_NPM := $(shell command -v $(NPM) 2>/dev/null)
ifeq ($(HAVE_NPM),)
FRONTEND := frontend-unavailable
else
FRONTEND := $(FRONTEND_STAMP)
endif

.PHONY: run test install install-test frontend frontend-unavailable clock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install install-test: $(VENV)/.installed $(FRONTEND)

# npm ci again only when the lock file changes; bundle again only when the lock file or frontend/ changes.
$(NPM_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(FRONTEND_STAMP): $(NPM_STAMP) package-lock.json $(FRONTEND_SRC)
	node frontend/build.mjs
	touch $@

frontend: $(FRONTEND)

# Without npm the rest still works: the modeler page answers 503 and its browser tests skip (fail in CI).
frontend-unavailable:
	@if [ "$$ORGLIFE_REQUIRE_BROWSER" = 1 ]; then echo "npm not found: cannot build the modeler page" >&2; exit 1; fi
	@echo "warning: npm not found; the BPMN modeler page (/admin/modeler) is not built (install Node.js >= 18, then make frontend)" >&2

run: $(VENV)/.installed $(FRONTEND)
	$(BIN)/flask --app service init --admin-password '$(ADMIN_PASSWORD)'
	$(BIN)/flask --app service demo
	@echo "admin password: $(ADMIN_PASSWORD)   API docs: http://$(HOST):$(PORT)/api/docs   BPMN modeler: http://$(HOST):$(PORT)/admin/modeler"
	$(BIN)/gunicorn -w 2 -k gthread --threads 2 -b $(HOST):$(PORT) wsgi:app

clock: $(VENV)/.installed
	$(BIN)/flask --app service clock

test: $(VENV)/.installed $(FRONTEND)
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/engine_roundtrip.py

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules service/static/modeler
