# django-liveness: the commands a developer needs. `make demo` and `make test` are the quickstart.
# The newest Python on this machine that CI proves (on PATH or under pyenv), which takes the newest
# Django django-liveness supports (Django 6.x needs Python 3.12+); python3 when none is found.
# `make test PYTHON=python3.11 DJANGO=5.2.* VENV=.venv-dj52` picks others (docs/compatibility.md).
SUPPORTED_PYTHONS := 3.13 3.12 3.11 3.10
PYTHON ?= $(shell for v in $(SUPPORTED_PYTHONS); do \
	for p in "$$(command -v python$$v)" $$(ls -d "$$(pyenv root 2>/dev/null)"/versions/$$v.*/bin/python$$v 2>/dev/null | sort -rV); do \
	[ -n "$$p" ] && "$$p" -c "" 2>/dev/null && { echo "$$p"; exit 0; }; done; done; echo python3)
DJANGO ?=
PYTEST_ARGS ?=
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo
SAY_VERSIONS = @$(BIN)/python -c 'import sys, django; print(f"Python {sys.version.split()[0]}, Django {django.get_version()} ($(VENV))")'

.PHONY: demo test lint test-browser-random test-postgres test-compat test-schema test-azurite screenshots schema docs install clean bench bench-smoke messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]" $(if $(DJANGO),"Django==$(DJANGO)")
	touch $(STAMP)

install: $(STAMP)  ## Install the project and everything the tests need into $(VENV)

# The demo needs the app and its [azure] extra only (no test or docs tools).
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $(DEMO_STAMP)

PORT ?= 8000
demo: $(DEMO_STAMP)  ## Run the example project with the emulator (no Azure needed) on http://127.0.0.1:$(PORT) (make demo PORT=8123)
	$(SAY_VERSIONS)
	$(BIN)/python example_project/manage.py migrate --noinput
	$(BIN)/python example_project/manage.py demo_setup
	@echo "Open http://127.0.0.1:$(PORT)/ and log in; the admin is at http://127.0.0.1:$(PORT)/admin/"
	PORT=$(PORT) $(BIN)/python example_project/manage.py runserver 127.0.0.1:$(PORT)

test: $(STAMP)  ## Run the whole test suite on SQLite, then the API's schema and lifecycle tests in a host left at DRF's defaults
	$(SAY_VERSIONS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/python -m pytest --ds=tests.settings_defaults tests/test_api_schema.py tests/test_api_lifecycle.py

lint: $(STAMP)  ## Check the architecture (.importlinter: the layers, the emulator apart, no import circle; docs/contributing.md)
	$(BIN)/lint-imports

BROWSER_TESTS := tests/test_browser.py tests/test_browser_admin.py
SEED ?=
test-browser-random: $(STAMP) node_modules/.installed  ## Run the browser tests in a random order (prints the seed; SEED=1234 repeats an order): no test needs another to run first
	$(BIN)/python -m pytest -p randomly $(if $(SEED),--randomly-seed=$(SEED)) $(BROWSER_TESTS)

test-postgres: $(STAMP)  ## Run the whole test suite on PostgreSQL (127.0.0.1:5432, user postgres)
	$(SAY_VERSIONS)
	LIVENESS_TEST_DB=postgres $(BIN)/python -m pytest $(PYTEST_ARGS)

# What CI runs on the Django lines between the newest and the LTS that get the whole suite (4.2, 6.0).
COMPAT_TESTS := tests/test_api_lifecycle.py tests/test_api_schema.py tests/test_migrations.py tests/test_admin.py \
	tests/test_admin_webhooks.py tests/test_checks.py tests/test_compatibility.py
test-compat: $(STAMP)  ## Run the lifecycle, schema, migration and admin tests (CI: on Django 4.2 and 6.0; docs/compatibility.md)
	$(SAY_VERSIONS)
	$(BIN)/python -m pytest $(PYTEST_ARGS) $(COMPAT_TESTS)

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

bench: $(STAMP)  ## Measure every figure of docs/performance.md side by side (PostgreSQL on 127.0.0.1:5432, Redis on 127.0.0.1:6379 database 13 for the RQ workers); prints PASS/FAIL per goal
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
