# Generated documentation (scripts/gen_docs.py): docs/parity.md, the parity report
# against a real AIStore, docs/emulation.md, the emulator's coverage page (routes,
# action registries, every "Deviation" paragraph of its docstrings), and the module map
# of docs/architecture.md (each module's docstring summary). Included from the
# Makefile, which defines PY and `venv`.
#
#   make docs         regenerate the pages (commit them with the change that moved them)
#   make docs-check   exit 1 when they are stale (tests/parity/test_docs_fresh.py checks
#                     the same in the offline suite)

.PHONY: docs docs-check

docs: venv ## regenerate docs/parity.md and docs/emulation.md
	$(PY) scripts/gen_docs.py

docs-check: venv ## exit 1 when the generated docs are stale
	$(PY) scripts/gen_docs.py --check
