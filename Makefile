# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone;
# `make help` lists every target.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS ?= test,bench,etl
RUNS   := docs/benchmark-runs

.DEFAULT_GOAL := help
.PHONY: help venv demo test serve bench bench-durable bench-faults bench-quick bench-live bench-report lint clean

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
	$(VENV)/bin/ruff check ais_emulator ais_datasets ais_tar tests benchmarks scripts

# -- fuzzing -----------------------------------------------------------------------------
# The fuzz tiers, longer than in `make test` (FUZZ_SECONDS per tier; FUZZ_SEED picks the
# HTTP cases). The tar tier (tests/tar) runs fresh seeds and FUZZ_EXAMPLES examples per
# property, again against an AddressSanitizer + UBSan build of the compiled scanner, then
# FUZZ_SECONDS of coverage-guided fuzzing with atheris (the `fuzz` extra). `make test`
# runs the same properties on a fixed, small set of examples.
.PHONY: fuzz fuzz-http fuzz-tar chaos-report
FUZZ_SECONDS ?= 120
FUZZ_EXAMPLES ?= 5000
ASAN_TARSCAN := build/asan/_tarscan.so

fuzz: fuzz-http fuzz-tar ## both fuzz tiers, long (FUZZ_SECONDS each)

fuzz-http: venv ## random and malformed requests over raw sockets against the server
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest tests/fuzz/test_http_fuzz.py -q -s -p no:cacheprovider

fuzz-tar: venv ## every tar reader on hostile shards: properties, a sanitizer build, atheris
	AIS_FUZZ_LONG=1 AIS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest tests/tar -q -p no:cacheprovider
	@mkdir -p $(dir $(ASAN_TARSCAN))
	$(CC) -shared -fPIC -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=undefined $$($(PY) -c "import sysconfig; print('-I' + sysconfig.get_paths()['include'])") \
	  ais_datasets/_tarscan.c -o $(ASAN_TARSCAN)
	AIS_FUZZ_LONG=1 AIS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) AIS_TARSCAN_SO=$(ASAN_TARSCAN) \
	  LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
	  $(PY) -m pytest tests/tar/test_fuzz.py tests/tar/test_regressions.py -q -p no:cacheprovider
	@$(PY) -c "import atheris" 2>/dev/null || $(VENV)/bin/uv pip install -q --python $(PY) -e ".[fuzz]" \
	  || $(PY) -m pip install -q -e ".[fuzz]" || echo "atheris is not installable here: coverage-guided step skipped"
	@if $(PY) -c "import atheris" 2>/dev/null; then \
	  cd tests && ../$(PY) -m tar.atheris_tar ../build/tar-corpus -max_total_time=$(FUZZ_SECONDS) -timeout=30; fi

chaos-report: venv ## every dataset class under the fault mix against a clean run (docs/faults.md)
	$(PY) tests/reliability/report.py $(ARGS)

# -- benchmarks ------------------------------------------------------------------------
# Each full run is saved under docs/benchmark-runs/ (emulator.json, aistore.json) and
# bench-report renders both into docs/benchmarks.md, docs/benchmarks.png and the README's
# generated table.

BENCH_RUN = $(PY) -m pytest -p no:cacheprovider --benchmark-only
BENCH_PYTEST = $(BENCH_RUN) benchmarks

bench: venv ## benchmarks against the emulator (~1 h on 2 cores); rewrites the report
	$(BENCH_PYTEST) --ignore=benchmarks/test_durable.py --ignore=benchmarks/test_faults.py \
	  --benchmark-json=bench-results/run.json $(PYTEST_ARGS)
	@mkdir -p $(RUNS) && cp bench-results/run.json $(RUNS)/emulator.json
	@$(MAKE) --no-print-directory bench-report

bench-durable: venv ## the durable store (--data-dir): 1 GiB in and out, mixed load; rewrites the report
	$(BENCH_RUN) benchmarks/test_durable.py --benchmark-json=bench-results/durable.json $(PYTEST_ARGS)
	@mkdir -p $(RUNS) && cp bench-results/durable.json $(RUNS)/durable.json
	@$(MAKE) --no-print-directory bench-report

bench-faults: venv ## shard paths under injected resets, truncations and 503s against clean rounds
	$(BENCH_RUN) benchmarks/test_faults.py --bench-rounds 5 --benchmark-json=bench-results/faults.json $(PYTEST_ARGS)
	@mkdir -p $(RUNS) && cp bench-results/faults.json $(RUNS)/faults.json
	@$(MAKE) --no-print-directory bench-report

bench-quick: venv ## a tenth-size smoke run of the benchmarks, ending with its ratios
	$(BENCH_PYTEST) --quick --benchmark-json=bench-results/quick.json $(PYTEST_ARGS)
	@$(PY) -m benchmarks.report bench-results/quick.json --summary

# Against a real AIStore: the live tier's cluster (scripts/live-cluster.sh), started and
# stopped around the run, or BENCH_LIVE_ENDPOINT=URL for a running one (the benchmarks
# create fresh buckets of their own there and remove them).
BENCH_LIVE = $(BENCH_PYTEST) --ignore=benchmarks/test_durable.py --ignore=benchmarks/test_faults.py -k 'not test_server_get' --bench-live="$$AIS_ENDPOINT" \
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
	  --also $(RUNS)/durable.json --also $(RUNS)/faults.json --out docs --readme README.md \
	  --summary

include scripts/live.mk
include scripts/docs.mk

clean: ## remove .venv, bench-results and build outputs
	rm -rf $(VENV) bench-results .pytest_cache build ais_datasets/_tarscan.*.so
