# Set-up and everyday commands. `make demo` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
EXTRAS ?= test,bench,etl

.PHONY: venv demo test test-fast serve bench bench-quick lint clean

venv: $(STAMP)

# uv (from PyPI) makes the large torch install fast; plain pip is the fallback.
# setup.py builds the compiled tar scanner (ais_datasets/_tarscan.c) into the package.
$(STAMP): pyproject.toml setup.py ais_datasets/_tarscan.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null 2>&1 || true
	@$(PY) -m pip install -q uv >/dev/null 2>&1 && \
	  $(VENV)/bin/uv pip install -q --python $(PY) -e ".[$(EXTRAS)]" || \
	  $(PY) -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(STAMP)

demo: venv
	$(PY) scripts/demo.py $(ARGS)

test: venv
	$(PY) -m pytest tests -q -p no:cacheprovider $(PYTEST_ARGS)

serve: venv
	$(VENV)/bin/ais-emulator serve --host 127.0.0.1 --port $${PORT:-51080}

bench: venv
	$(PY) -m pytest benchmarks -p no:cacheprovider --benchmark-only \
	  --benchmark-json=bench-results/run.json $(PYTEST_ARGS)
	$(PY) -m benchmarks.report bench-results/run.json docs

bench-quick: venv
	$(PY) -m pytest benchmarks -p no:cacheprovider --quick --benchmark-only \
	  --benchmark-json=bench-results/quick.json $(PYTEST_ARGS)

# Fuzz tiers, longer than in `make test` (FUZZ_SECONDS per tier; FUZZ_SEED picks the cases).
.PHONY: fuzz fuzz-http fuzz-tar
FUZZ_SECONDS ?= 120
fuzz: fuzz-http fuzz-tar
fuzz-http: venv
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(PY) -m pytest tests/fuzz/test_http_fuzz.py -q -s -p no:cacheprovider

lint: venv
	$(VENV)/bin/ruff check ais_emulator ais_datasets tests benchmarks

# The tar fuzz tier (tests/tar) run long: fresh seeds and FUZZ_EXAMPLES examples per
# property, again against an AddressSanitizer + UBSan build of the compiled scanner, then
# FUZZ_SECONDS of coverage-guided fuzzing with atheris (the `fuzz` extra). `make test`
# runs the same properties on a fixed, small set of examples.
FUZZ_EXAMPLES ?= 5000
ASAN_TARSCAN := build/asan/_tarscan.so
fuzz-tar: venv
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
# every dataset class under the fault mix, against a clean run (docs/faults.md)
.PHONY: chaos-report
chaos-report: venv
	$(PY) tests/reliability/report.py $(ARGS)

include scripts/live.mk
include scripts/docs.mk

clean:
	rm -rf $(VENV) bench-results .pytest_cache build ais_datasets/_tarscan.*.so
