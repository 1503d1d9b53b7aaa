"""pytest-benchmark suites for ``ais_datasets`` and ``ais_emulator``, and the report.

Run ``make bench`` (full) or ``make bench-quick`` (a tenth of the sizes); turn a saved run
into ``docs/benchmarks.md`` and ``docs/benchmarks.png`` with
``python -m benchmarks.report <run.json> docs``. See ``docs/benchmarks.md``.
"""
