"""Fixtures of the dataset suite.

* ``kit``: the helper module (``_kit.py``: corpora, tar builders, ``CallLog``);
* ``client`` / ``bucket``: an SDK client and a fresh bucket on the in-process emulator;
* ``server_client`` / ``server_bucket``: the same on the session's emulator HTTP server,
  for DataLoader worker processes (the in-process mock does not reach other processes);
* ``calls``: a ``CallLog`` of the SDK requests made during the test.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path

import pytest

_NAME = "ais_ds_test_kit"


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
    return sys.modules[_NAME]


@pytest.fixture
def client(ais_mock):
    return ais_mock.client()


@pytest.fixture
def endpoint(ais_mock):
    return ais_mock.endpoint


@pytest.fixture
def bucket(client):
    return client.bucket("ds").create()


@pytest.fixture
def server_client(ais_server):
    from aistore.sdk import Client

    return Client(ais_server.url)


@pytest.fixture
def server_bucket(server_client):
    bck = server_client.bucket(f"dl-{uuid.uuid4().hex[:10]}").create()
    yield bck
    bck.delete(missing_ok=True)


@pytest.fixture
def calls(monkeypatch, kit):
    return kit.CallLog().install(monkeypatch)
