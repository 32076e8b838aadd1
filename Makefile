# The two commands: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_LOANS ?= 3000
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup browser web demo test test-python test-web lint typecheck format bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the browser tests (Playwright never downloads a browser here).
browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null; }

# The console: the typed API client is generated from the server's OpenAPI document,
# so a changed endpoint breaks this build rather than the user.
web: setup
	$(BIN)/python -m arrears.kit.openapi_dump web/openapi.json
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build

demo: web
	$(BIN)/arrears demo --loans $(DEMO_LOANS)
	$(BIN)/arrears serve

test: setup lint typecheck web browser
	cd web && npx vitest run
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

screenshots: web browser
	ARREARS_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -p no:cacheprovider tests/web

bench: setup
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/eod_bench.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache web/node_modules web/dist
