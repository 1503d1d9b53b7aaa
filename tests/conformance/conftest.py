"""Local fixtures of the conformance suite.

Every test takes ``ais_backend`` (from the ``ais_emulator`` pytest plugin) and so runs on
the in-process emulator and the emulator HTTP server, or, in live mode
(``--ais-live=URL``), a real AIStore. The fixtures here only add conveniences on top of it:

* ``bck``: a fresh, uniquely named ais bucket (destroyed at teardown);
* ``fresh_name``: a unique bucket name that is *not* created, destroyed at teardown if a
  test created it;
* ``wire``: raw ``requests`` against the endpoint (status codes, headers, msgpack);
* ``shards``: deterministic in-memory tar / tgz / zip builders and a tar reader;
* ``kit``: the helper module itself (flag constants, ``payload``, ``unique_name``);
* ``put``: store ``{name: bytes}`` in ``bck`` and get the bucket back.

The ``server`` backend here serves a durable store (``--data-dir`` in a temporary
directory), so every conformance test also checks the on-disk store through HTTP; the
``inprocess`` backend checks the in-memory store.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_NAME = "ais_conformance_helpers"


def _load_helpers():
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("_helpers.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module
    spec.loader.exec_module(module)
    return module


helpers = _load_helpers()


@pytest.fixture(scope="session")
def ais_server_session(tmp_path_factory):
    """The session's EmulatorServer, over a data dir (overrides the plugin's; the plugin's
    ``ais_server`` still resets it before every test)."""
    from ais_emulator.transports.server import EmulatorServer

    with EmulatorServer(host="127.0.0.1", port=0,
                        data_dir=str(tmp_path_factory.mktemp("ais-data"))) as srv:
        yield srv


@pytest.fixture
def kit():
    """The helper module (``_helpers.py``): flag constants, ``payload``, ``unique_name``."""
    return helpers


@pytest.fixture
def shards():
    """In-memory tar / tgz / zip builders and a tar reader."""
    return helpers.Shards()


@pytest.fixture
def wire(ais_backend):
    """Raw ``requests`` against the backend's endpoint (no SDK headers, no retries)."""
    w = helpers.Wire(ais_backend.endpoint)
    yield w
    w.close()


@pytest.fixture
def bck(ais_backend):
    """A fresh, uniquely named ais bucket, destroyed at teardown."""
    return ais_backend.bucket("cf")


@pytest.fixture
def fresh_name(ais_backend):
    """A unique bucket name (not created); destroyed at teardown if a test created it."""
    name = helpers.unique_name("cfn")
    yield name
    ais_backend.client.bucket(name).delete(missing_ok=True)


@pytest.fixture
def put(bck):
    """Put ``{name: bytes}`` into ``bck``; returns the bucket."""

    def _put(objects: dict[str, bytes]):
        for name, data in objects.items():
            bck.object(name).get_writer().put_content(data)
        return bck

    return _put
