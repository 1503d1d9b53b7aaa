"""Fixtures of the dataset suite.

* ``kit``: the helper module (``_kit.py``: corpora, tar builders, ``CallLog``);
* ``client`` / ``bucket`` / ``endpoint``: an SDK client, a fresh bucket and the URL of the
  in-process emulator (``settled_mock``: it keeps answering after the test until the
  ``ais-datasets*`` threads the test started have ended, up to ``SETTLE_S`` seconds);
* ``server_client`` / ``server_bucket``: the same on the session's emulator HTTP server,
  for DataLoader worker processes (the in-process mock does not reach other processes);
* ``calls``: a ``CallLog`` of the SDK requests made during the test.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

_NAME = "ais_ds_test_kit"
SETTLE_S = 5.0


def _load_kit():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("_kit.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


_load_kit()


@pytest.fixture(autouse=True)
def _fresh_getbatch_support():
    """What one test teaches the process about GetBatch support must not leak."""
    from ais_datasets.getbatch import reset_support

    reset_support()
    yield
    reset_support()


@pytest.fixture
def kit():
    """The helper module (``_kit.py``): corpora, tar builders, ``CallLog``."""
    return sys.modules[_NAME]


def _background_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("ais-datasets")}


@pytest.fixture
def settled_mock(ais_mock):
    """``ais_mock``, stopped only after the test's background threads have ended.

    A closed iteration does not wait for the requests its threads are already making;
    those must reach the emulator, not the network after the emulator has stopped.
    """
    before = _background_threads()
    yield ais_mock
    if _background_threads() - before:
        gc.collect()  # a pool kept only by a reference cycle (a traceback) goes with it
        deadline = time.monotonic() + SETTLE_S
        for thread in _background_threads() - before:
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture
def client(settled_mock):
    """An SDK client of the in-process emulator (see ``settled_mock``)."""
    return settled_mock.client()


@pytest.fixture
def endpoint(settled_mock):
    """The in-process emulator's URL."""
    return settled_mock.endpoint


@pytest.fixture
def bucket(client):
    """A fresh bucket ``ds`` on the in-process emulator."""
    return client.bucket("ds").create()


@pytest.fixture
def server_client(ais_server):
    """An SDK client of the emulator HTTP server (empty state), for worker processes."""
    from aistore.sdk import Client

    return Client(ais_server.url)


@pytest.fixture
def server_bucket(server_client):
    """A fresh, uniquely named bucket on the emulator HTTP server."""
    bck = server_client.bucket(f"dl-{uuid.uuid4().hex[:10]}").create()
    yield bck
    bck.delete(missing_ok=True)


@pytest.fixture
def calls(monkeypatch, kit):
    """A ``CallLog`` of the SDK requests made during the test."""
    return kit.CallLog().install(monkeypatch)
