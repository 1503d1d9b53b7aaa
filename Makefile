# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone;
# `make help` lists every target.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS ?= test,bench,etl
RUNS   := docs/benchmark-runs

.DEFAULT_GOAL := help
.PHONY: help venv demo test serve bench bench-quick bench-live bench-report lint clean

help: ## list the targets
	@echo "usage: make <target> [ARGS=...] [PYTEST_ARGS=...]"
	@echo
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv and install the package with its extras (first time: minutes)

# uv (from PyPI) makes the large torch install fast; plain pip is the fallback.
# setup.py builds the compiled tar scanner (ais_datasets/_tarscan.c) into the package.
$(STAMP): pyproject.toml setup.py ais_datasets/_tarscan.c
	@echo "venv: installing ais-datasets and its extras [$(EXTRAS)] into $(VENV)."
	@echo "venv: torch brings its CUDA libraries: a first install downloads about 4 GB and"
	@echo "venv: takes 2-10 minutes, depending on the network; later ones reuse the cache."
	@test -x $(PY) || { echo "venv: creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "venv: installing uv (a fast installer) into $(VENV)"
	@$(PY) -m pip install -q --upgrade pip uv >/dev/null 2>&1 || \
	  echo "venv: uv is not available; installing with pip (slower, no progress bar)"
	@if test -x $(VENV)/bin/uv; then \
	  $(VENV)/bin/uv pip install --python $(PY) -e ".[$(EXTRAS)]"; \
	else \
	  $(PY) -m pip install -e ".[$(EXTRAS)]"; \
	fi
	@touch $(STAMP)
	@echo "venv: ready ($(VENV)); \`make help\` lists what to run next"

demo: venv ## the main job end to end on an embedded emulator (ARGS="--help" for options)
	$(PY) scripts/demo.py $(ARGS)

test: venv ## the offline test suite (emulator only, whatever AIS_EMULATOR_LIVE says)
	AIS_EMULATOR_LIVE= $(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

serve: venv ## the emulator on 127.0.0.1:51080 (PORT=... to change)
	$(VENV)/bin/ais-emulator serve --host 127.0.0.1 --port $${PORT:-51080}

lint: venv ## ruff over the packages, tests and benchmarks
	$(VENV)/bin/ruff check ais_emulator ais_datasets tests benchmarks

# -- benchmarks ------------------------------------------------------------------------
# Each full run is saved under docs/benchmark-runs/ (emulator.json, aistore.json) and
# bench-report renders both into docs/benchmarks.md, docs/benchmarks.png and the README's
# generated table.

BENCH_PYTEST = $(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only

bench: venv ## benchmarks against the emulator (~1 h on 2 cores); rewrites the report
	$(BENCH_PYTEST) --benchmark-json=bench-results/run.json $(PYTEST_ARGS)
	@mkdir -p $(RUNS) && cp bench-results/run.json $(RUNS)/emulator.json
	@$(MAKE) --no-print-directory bench-report

bench-quick: venv ## a tenth-size smoke run of the benchmarks, ending with its ratios
	$(BENCH_PYTEST) --quick --benchmark-json=bench-results/quick.json $(PYTEST_ARGS)
	@$(PY) -m benchmarks.report bench-results/quick.json --summary

# Against a real AIStore: the live tier's cluster (scripts/live-cluster.sh), started and
# stopped around the run, or BENCH_LIVE_ENDPOINT=URL for a running one (the benchmarks
# create fresh buckets of their own there and remove them).
BENCH_LIVE = $(BENCH_PYTEST) -k 'not test_server_get' --bench-live="$$AIS_ENDPOINT" \
	  --benchmark-json=bench-results/live.json $(PYTEST_ARGS) && \
	mkdir -p $(RUNS) && cp bench-results/live.json $(RUNS)/aistore.json && \
	$(MAKE) --no-print-directory bench-report

bench-live: venv ## the dataset benchmarks against a real AIStore (BENCH_LIVE_ENDPOINT=URL or the live tier's)
ifdef BENCH_LIVE_ENDPOINT
	AIS_ENDPOINT="$(BENCH_LIVE_ENDPOINT)"; $(BENCH_LIVE)
else
	$(call with_live_cluster,$(BENCH_LIVE))
endif

bench-report: venv ## render docs/benchmark-runs/*.json into docs/ and README.md
	$(PY) -m benchmarks.report $(RUNS)/emulator.json --live $(RUNS)/aistore.json \
	  --out docs --readme README.md --summary

include scripts/live.mk
include scripts/docs.mk

clean: ## remove .venv, bench-results and build outputs
	rm -rf $(VENV) bench-results .pytest_cache build ais_datasets/_tarscan.*.so
