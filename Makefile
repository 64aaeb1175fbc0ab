# Two commands do all the set-up: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := bot:create_app

.PHONY: run test install install-dev migrate bench mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## run: install, migrate, create demo data on an empty database, serve on http://$(HOST):$(PORT) (PORT=8080 make run)
PORT ?= 5000
HOST ?= 127.0.0.1
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	@echo "Dashboard:      http://$(HOST):$(PORT)/"
	@echo "Practice phone: http://$(HOST):$(PORT)/practice/  (with the console SMS backend, the default)"
	$(BIN)/flask serve --host $(HOST) --port $(PORT)

## test: install, then the test suite (TEST_DATABASE_URL=postgresql+psycopg://... to run it on PostgreSQL)
test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: install
	$(BIN)/flask db upgrade

## bench: the numbers quoted in notes (see bench/README.md)
bench: install-dev
	$(BIN)/python bench/triage_bench.py
	$(BIN)/python bench/dispatch_bench.py

## mutation: mutmut over the clinical core, then the score per module (tests/MUTATION.md; not part of `make test`)
mutation: install-dev
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/python bench/mutation_score.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis mutants
