"""pytest-benchmark suites for ``ais_datasets`` and ``ais_emulator``, and the report.

``make bench`` (against the emulator), ``make bench-live`` (against a real AIStore),
``make bench-quick`` (a tenth of the sizes, ending with its ratios); ``make bench-report``
renders the saved runs (``docs/benchmark-runs/``) into ``docs/benchmarks.md``,
``docs/benchmarks.png`` and the README's table (``python -m benchmarks.report --help``).
The ceilings every contender is compared with: :mod:`benchmarks.ceilings`.
"""
