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

lint: venv
	$(VENV)/bin/ruff check ais_emulator ais_datasets tests benchmarks

# every dataset class under the fault mix, against a clean run (docs/faults.md)
.PHONY: chaos-report
chaos-report: venv
	$(PY) tests/reliability/report.py $(ARGS)

include scripts/live.mk
include scripts/docs.mk

clean:
	rm -rf $(VENV) bench-results .pytest_cache build ais_datasets/_tarscan.*.so
