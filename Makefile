# django-liveness: the commands a developer needs. `make demo` and `make test` are the quickstart.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test test-browser-random test-postgres test-schema test-azurite screenshots schema docs install clean bench bench-smoke messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## Install the project and everything the tests need into $(VENV)

# The demo needs the app and its [azure] extra only (no test or docs tools).
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

PORT ?= 8000
demo: $(DEMO_STAMP)  ## Run the example project with the emulator (no Azure needed) on http://127.0.0.1:$(PORT) (make demo PORT=8123)
	$(BIN)/python example_project/manage.py migrate --noinput
	$(BIN)/python example_project/manage.py demo_setup
	@echo "Open http://127.0.0.1:$(PORT)/ and log in; the admin is at http://127.0.0.1:$(PORT)/admin/"
	PORT=$(PORT) $(BIN)/python example_project/manage.py runserver 127.0.0.1:$(PORT)

test: $(STAMP)  ## Run the whole test suite on SQLite, then the API's schema and lifecycle tests in a host left at DRF's defaults
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --ds=tests.settings_defaults tests/test_api_schema.py tests/test_api_lifecycle.py

BROWSER_TESTS := tests/test_browser.py tests/test_browser_admin.py
SEED ?=
test-browser-random: $(STAMP) node_modules/.installed  ## Run the browser tests in a random order (prints the seed; SEED=1234 repeats an order): no test needs another to run first
	$(BIN)/python -m pytest -p randomly $(if $(SEED),--randomly-seed=$(SEED)) $(BROWSER_TESTS)

test-postgres: $(STAMP)  ## Run the whole test suite on PostgreSQL (127.0.0.1:5432, user postgres)
	LIVENESS_TEST_DB=postgres $(BIN)/python -m pytest

test-schema: $(STAMP)  ## Run schemathesis (every check and phase, valid and malformed input) against a live server, as an ordinary user and as an app: 0 failures (~3 min; LIVENESS_TEST_DB=postgres for PostgreSQL)
	$(BIN)/python -m pytest -m schemathesis tests/test_schemathesis.py

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

test-azurite: $(STAMP) node_modules/.installed  ## Run the storage tests on Azure Blob Storage (Azurite, installed with npm)
	$(BIN)/python -m pytest -m azurite

screenshots: $(STAMP) node_modules/.installed  ## Retake the screenshots in docs/img/ (headless Chromium against the example project)
	LIVENESS_SCREENSHOTS=docs/img $(BIN)/python -m pytest tests/test_browser.py tests/test_browser_admin.py

schema: $(STAMP)  ## Regenerate docs/openapi.json and docs/api-reference.md from the schema the API serves
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python -m tests.openapi_docs

bench: $(STAMP)  ## Measure every figure of docs/performance.md side by side (PostgreSQL on 127.0.0.1:5432); prints PASS/FAIL per goal
	$(BIN)/python -m benchmarks

bench-smoke: $(STAMP)  ## Run every benchmark at a small size (CI: they keep working; the figures mean nothing)
	$(BIN)/python -m benchmarks --smoke

LOCALES := fr de
messages: $(STAMP)  ## Update the translation catalogues (django_liveness/locale/) from the code, then compile them (needs GNU gettext)
	cd django_liveness && ../$(BIN)/django-admin makemessages --no-obsolete --no-location $(addprefix -l ,$(LOCALES))
	cd django_liveness && ../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) site .pytest_cache node_modules

docs: $(STAMP)  ## Build the documentation site (warnings are errors)
	$(BIN)/mkdocs build --strict --site-dir site
