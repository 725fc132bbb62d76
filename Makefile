# The two commands a newcomer needs: `make run` and `make test`. Both use the virtual
# environment in .venv, created and filled on first use (and again when pyproject.toml or
# constraints.txt change). constraints.txt pins every transitive dependency; refresh it with
# `make lock` after changing pyproject.toml.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Test processes; each module stays on one (see tests/conftest.py). `make test TEST_WORKERS=0`
# runs the suite in this process, as plain pytest does.
TEST_WORKERS ?= auto

.PHONY: run test format lock clean browser

$(INSTALLED): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "nuri needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(INSTALLED)

## Serve the API on 127.0.0.1:8000 with a demo commons (SQLite under NURI_HOME, local backend).
run: $(INSTALLED)
	$(BIN)/nuri serve --demo

## Run the whole test suite: unit, integration (SQLite and PostgreSQL), ruff and mypy.
test: $(INSTALLED)
	@# pytest exits 5 when it collected no test (e.g. a -k filter); that is not a failure.
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS); status=$$?; [ $$status -eq 5 ] && exit 0; exit $$status

## Install Debian's Chromium and a Korean font for the browser tests (needs root; once).
## Playwright drives this Chromium; it never downloads a browser of its own.
browser:
	@command -v chromium >/dev/null && fc-list :lang=ko | grep -q . || { \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-nanum; }

format: $(INSTALLED)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

lock: $(INSTALLED)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^nuri' > constraints.txt

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
