"""ais_datasets._sdk_adapter: the SDK internals in one place, for the SDK version it supports."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest
from aistore.sdk import Client

from ais_datasets import _sdk_adapter as adapter
from ais_datasets.errors import UnsupportedDependencyError


def test_the_installed_sdk_is_the_supported_one():
    installed = metadata.version("aistore")
    assert installed in adapter.SUPPORTED_AISTORE
    assert adapter.check_aistore_version() == installed


def test_another_sdk_version_fails_loudly_naming_both(monkeypatch):
    with pytest.raises(UnsupportedDependencyError,
                       match=r"supports aistore 2\.0\.0, and aistore 2\.1\.0 is installed"):
        adapter.check_aistore_version("2.1.0")
    monkeypatch.setattr(adapter.metadata, "version", lambda name: "1.99")
    with pytest.raises(UnsupportedDependencyError, match=r"aistore 1\.99 is installed"):
        adapter.check_aistore_version()


def test_importing_the_datasets_with_another_sdk_version_fails_loudly():
    code = ("import importlib.metadata as m\n"
            "real = m.version\n"
            "m.version = lambda name: '2.1.0' if name == 'aistore' else real(name)\n"
            "import ais_datasets\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode != 0
    assert "UnsupportedDependencyError" in run.stderr and "aistore 2.1.0" in run.stderr


def test_the_reads_find_what_they_read():
    client = Client("http://localhost:8080")
    request_client = adapter.request_client_of(client)
    assert request_client is client.bucket("b").client  # the public way to the same client
    obj = client.bucket("b").object("o")
    assert adapter.object_client(obj) is request_client
    moved = adapter.object_on(obj, request_client, "p")
    assert (moved.bucket_name, moved.name, adapter.object_client(moved)) == ("b", "p",
                                                                             request_client)
    assert adapter.retry_config_of(request_client) is not None
    assert adapter.viewable(request_client) and not adapter.viewable(object())
    assert adapter.object_client(object()) is None and adapter.request_client_of(1) is None
