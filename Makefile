# walletim: `make demo` and `make test` work on a fresh machine (Python >= 3.11, node, npm).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .stamps
PYTEST_ARGS ?=
# `make test` runs the suite in two phases: all but the app's tests on TEST_JOBS pytest-xdist
# workers (a file's tests together and in order), then the app's tests (tests/tui) in one
# process: beside a heavy test of another worker the app's live tests slow down up to 15x.
# On this two-core machine: about 11 + 4 min against 19 min in one process.
# PYTEST_ARGS go to both phases (e.g. -x); TEST_JOBS=1 runs the first in one process too.
TEST_JOBS ?= 2
XDIST := $(if $(filter-out 1,$(TEST_JOBS)),-n $(TEST_JOBS) --dist loadfile,)

.PHONY: setup demo test lint format bench fixtures clean reliability

setup: $(STAMPS)/venv $(STAMPS)/npm $(STAMPS)/debs

# Debian packages: redis-server for the scale-out relay's tests and benchmark; zsh and fish
# to check the scripts `walletim completion zsh|fish` prints (bash is there already).
DEBS := redis-server zsh fish
$(STAMPS)/debs:
	@if ! command -v redis-server >/dev/null 2>&1 || ! command -v zsh >/dev/null 2>&1 || ! command -v fish >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS); \
		else \
			echo "missing Debian packages: run 'sudo apt-get install -y $(DEBS)' (the relay's Redis tests, the shell completion tests)" >&2; \
			exit 1; \
		fi; \
	fi
	@mkdir -p $(STAMPS) && touch $@

# walletim with the extras the tests and benchmarks use: dev (pytest, mypy, ruff, import-linter),
# redis (the relay's Redis store: its tests start their own redis-server) and bench (web3.py,
# the reference bench/ measures against). A plain `pip install walletim` needs none of them.
$(STAMPS)/venv: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --config-settings editable_mode=compat -e '.[dev,redis,bench]'
	@mkdir -p $(STAMPS) && touch $@

# The npm pieces (Anvil, cast, solc, OpenZeppelin, Uniswap V2 artifacts). Their platform
# packages carry the binaries; install scripts are not needed and not run.
$(STAMPS)/npm: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

# The demo's homes are kept in .demo/ (throwaway: Anvil's public test keys); it ends by
# printing how to open them in the app (walletim app).
demo: setup
	rm -rf .demo
	$(VENV)/bin/walletim demo --keep .demo

test: setup lint
	$(VENV)/bin/pytest -q $(XDIST) --ignore=tests/tui --durations=15 $(PYTEST_ARGS)
	$(VENV)/bin/pytest -q tests/tui --durations=5 $(PYTEST_ARGS)

# The reliability suite's long tier (issue 8), then RELIABILITY.md from both tiers' counts.
reliability: setup
	rm -rf .reliability
	$(VENV)/bin/pytest -q tests/reliability tests/fuzz
	WALLETIM_LONG=1 $(VENV)/bin/pytest -q tests/reliability tests/fuzz
	$(PY) tests/reliability/report.py

lint: setup
	$(VENV)/bin/ruff check walletim tests bench cli.py
	$(VENV)/bin/ruff format --check walletim tests bench cli.py
	$(VENV)/bin/mypy --strict walletim
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format walletim tests bench cli.py
	$(VENV)/bin/ruff check --fix walletim tests bench cli.py

bench: setup
	$(PY) bench/run.py

# Rebuild anvil-fixtures/artifacts/ from anvil-fixtures/contracts/ with the npm solc
# (deterministic: tests/integration/test_fixtures.py checks the committed ones match), then
# the world's pinned addresses and code hashes (walletim/app/world_pins.py, checked by
# tests/integration/test_world.py) and Aave V3's on top of it (walletim/app/lending/pins.py,
# checked by tests/integration/test_lending.py).
fixtures: setup
	node anvil-fixtures/build.mjs
	$(PY) anvil-fixtures/pin_world.py
	$(PY) anvil-fixtures/pin_aave.py

clean:
	rm -rf $(STAMPS) .pytest_cache .mypy_cache .ruff_cache
