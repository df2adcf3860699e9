# Two commands on a fresh machine: `make run` (product on localhost:8000) and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
ADMIN_PASSWORD ?= Admin\#2026
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test clock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install install-test: $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/flask --app service init --admin-password '$(ADMIN_PASSWORD)'
	$(BIN)/flask --app service demo
	@echo "admin password: $(ADMIN_PASSWORD)   API docs: http://$(HOST):$(PORT)/api/docs"
	$(BIN)/gunicorn -w 2 -k gthread --threads 2 -b $(HOST):$(PORT) wsgi:app

clock: $(VENV)/.installed
	$(BIN)/flask --app service clock

test: $(VENV)/.installed
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/engine_roundtrip.py

clean:
	rm -rf $(VENV) instance .pytest_cache
