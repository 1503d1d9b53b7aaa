"""Build hook for the optional compiled tar scanner (all metadata is in pyproject.toml).

``ais_datasets._tarscan`` speeds up shard parsing; without a C compiler the build
carries on without it and :mod:`ais_datasets.tario` uses its pure-Python parser.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ais_datasets._tarscan", ["ais_datasets/_tarscan.c"],
                             optional=True)])
