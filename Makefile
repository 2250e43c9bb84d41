# Set-up is part of every target that needs it: a fresh clone runs `make run` or `make test` directly.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP_PY   := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# The browser console (console/): its own npm project, built by Vite into console/dist, which every
# gateway serves at /console/ (and /docs from its swagger assets).
STAMP_CONSOLE := console/node_modules/.installed
CONSOLE_DIST  := console/dist/index.html
CONSOLE_SRC   := $(shell find console/src console/index.html console/vite.config.ts console/tsconfig.json -type f 2>/dev/null)
# Slither has its own venv: slither-analyzer pins web3 below the project's web3 8.
SLITHER_VENV  := .venv-slither
STAMP_SLITHER := $(SLITHER_VENV)/.installed
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` (tests/conftest.py hands each a whole file at a time);
# PYTEST_WORKERS=0 runs the suite in one process, as before.
PYTEST_WORKERS ?= 2

.PHONY: help deps console console-check browser run demo test checks lint format typecheck compile check-artifacts slither fuzz lock clean \
	bench bench-quick network-up network-down network-status test-network besu-config

help:
	@echo "make run    - install what is needed, start chain + store, deploy, seed the demo consortium, serve the API"
	@echo "make test   - install what is needed and run every check (lint, types, reproducible build, tests)"
	@echo "make demo   - walk the demo flow against a running 'make run'"
	@echo "make bench  - batched vs per-record anchoring, growth to 1M records: writes BENCHMARKS.md; claims verified per second; verifications per second on a gateway that did not write"
	@echo "make bench-quick - the same without the growth curve, in a few minutes"
	@echo "make network-up / network-down - three EthereumJS Clique signers on loopback, the ledger and a gateway per node"
	@echo "make test-network - the multi-node tests alone (part of make test)"
	@echo "make fuzz   - the security battery at full size: long state-machine runs, 10,000+ hostile API requests"
	@echo "make lint | format | typecheck | compile | check-artifacts | slither | lock | clean"

deps: $(STAMP_PY) $(STAMP_NODE) $(CONSOLE_DIST)

$(STAMP_PY): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(STAMP_NODE): package-lock.json package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP_CONSOLE): console/package-lock.json console/package.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_DIST): $(STAMP_CONSOLE) $(CONSOLE_SRC)
	cd console && npx tsc --noEmit && npx vite build --logLevel warn

console: $(CONSOLE_DIST)

# The console's own checks: types and its unit tests (the browser crypto against known answers).
console-check: $(STAMP_CONSOLE)
	cd console && npx tsc --noEmit && npx vitest run --reporter=dot

# Debian's Chromium for the journeys (tests/console/), and a Chinese font for their screenshots (a
# phone has its own; this machine has none), as root; nothing if both are there already.
BROWSER_PKGS := chromium fonts-wqy-microhei
browser:
	@{ command -v chromium && [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; } >/dev/null 2>&1 || { \
	  [ "$$(id -u)" = 0 ] || { echo "make browser: run as root, or apt-get install $(BROWSER_PKGS)" >&2; exit 1; }; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PKGS) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(BROWSER_PKGS) >/dev/null; }; }

compile: $(STAMP_NODE)
	node scripts/compile.mjs

# Recompile into a scratch folder and compare byte for byte with the committed artifacts.
check-artifacts: $(STAMP_NODE)
	@tmp=$$(mktemp -d) && node scripts/compile.mjs --out $$tmp >/dev/null && \
	  diff -r $$tmp ledger/artifacts && echo "artifacts: reproducible, up to date" ; \
	  rc=$$?; rm -rf $$tmp; exit $$rc

$(STAMP_SLITHER): scripts/slither/requirements.lock
	test -x $(SLITHER_VENV)/bin/python || $(PY) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r scripts/slither/requirements.lock
	touch $@

# Static analysis of every contract under contracts/ (scripts/slither/check.py says what fails).
slither: $(STAMP_SLITHER) $(STAMP_NODE) $(STAMP_PY)
	$(BIN)/mypy --python-executable $(SLITHER_VENV)/bin/python scripts/slither/check.py
	$(SLITHER_VENV)/bin/python scripts/slither/check.py

run: deps
	$(BIN)/medledger up

demo: deps
	$(BIN)/medledger demo

lint: $(STAMP_PY)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP_PY)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP_PY)
	$(BIN)/mypy

# The static checks (slither alone takes minutes, its venv's install more in a fresh clone) run
# beside the tests, which spend much of their time waiting on blocks and peers: their output is
# printed when they end, pytest's closing line stays last, and either failing fails the target.
test: deps browser
	@log=$$(mktemp); \
	{ $(MAKE) --no-print-directory checks >$$log 2>&1; rc=$$?; \
	  printf '\n--- lint, typecheck, check-artifacts, slither (exit %s):\n' $$rc; cat $$log; \
	  rm -f $$log; exit $$rc; } & checks=$$!; \
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); tests=$$?; \
	wait $$checks; checked=$$?; \
	if [ $$checked -ne 0 ]; then echo "make test: the static checks failed (output above)"; fi; \
	[ $$tests -eq 0 ] && [ $$checked -eq 0 ]

checks: lint typecheck check-artifacts slither console-check

# Batch anchoring against the per-record baseline in one run (bench/anchor_scale.py): the full
# run adds the growth curve to 1,000,000 records and writes BENCHMARKS.md and bench/growth.png
# (an hour or more on 2 cores); bench-quick takes a few minutes and ends with the summary line.
bench: deps
	$(BIN)/python bench/anchor_scale.py --full
	$(BIN)/python bench/access_log.py 20000 1000
	$(BIN)/python bench/claims.py 100
	$(BIN)/python bench/verify_remote.py 200 4
	$(BIN)/python bench/replication.py 50

bench-quick: deps
	$(BIN)/python bench/anchor_scale.py

# The local multi-node network (docs/operations.md): runs in the background until network-down.
network-up: deps
	$(BIN)/medledger network up --detach

network-down: $(STAMP_PY)
	$(BIN)/medledger network down

network-status: $(STAMP_PY)
	$(BIN)/medledger network status

test-network: deps
	$(BIN)/pytest tests/network $(PYTEST_ARGS)

# The example production configs in node_config/besu (keys stay in node_config/besu/keys, ignored):
# make besu-config BESU_ACCOUNTS="0x.. 0x.." (the member accounts allowed to transact).
besu-config: $(STAMP_PY)
	$(BIN)/medledger network besu --validators hospital-a,hospital-b,insurer,regulator --new-keys \
	  $(foreach a,$(BESU_ACCOUNTS),--account $(a)) --out node_config/besu

# The security battery (tests marked `security`) at full size: the contract state machines run far
# longer, schemathesis sends at least 10,000 requests, the dictionary attack hashes four million
# payloads. About 45 minutes on 2 cores (the consent and prescribing machines take about 15 and
# 8 of them); `make test` runs the same tests with a small budget.
fuzz: deps
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -m security $(PYTEST_ARGS)

# Regenerate the Python lock from pyproject.toml (needs network to PyPI).
lock: $(STAMP_PY)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock --quiet
	$(BIN)/uv pip compile scripts/slither/requirements.in --generate-hashes --python-version 3.11 -o scripts/slither/requirements.lock --quiet

clean:
	rm -rf $(VENV) $(SLITHER_VENV) node_modules data .pytest_cache .mypy_cache .ruff_cache .hypothesis
