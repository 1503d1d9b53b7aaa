"""Fixtures of the differential test: one live side, one emulator side, and a corpus.

* ``live_endpoint``: the cluster of live mode (``--ais-live=URL`` or ``AIS_EMULATOR_LIVE``);
  skips the test outside live mode.
* ``sides``: ``(live, emulator)``. The live side talks to the live cluster; the emulator
  side to an in-process ``mock_ais`` on ``EMULATOR_ENDPOINT`` (``http://emulator.invalid:8080``),
  which ``responses`` serves while the live cluster's URL passes through to the network
  (and any other URL fails at once). Both SDK clients never retry, so a 5xx shows at once.
* ``corpus``: the name of a bucket holding ``CORPUS`` (plus custom metadata on one object)
  on both sides, under the same name, created once per module.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ais_emulator import Emulator, mock_ais
from ais_emulator import pytest_plugin as plugin

_NAME = "ais_parity_helpers"


def load_helpers():
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("_parity.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


kit = load_helpers()


@pytest.fixture(scope="session")
def live_endpoint(pytestconfig) -> str:
    endpoint = plugin.live_endpoint(pytestconfig)
    if not endpoint:
        pytest.skip("live tier: run with --ais-live=URL (or AIS_EMULATOR_LIVE=URL) of a real "
                    "AIStore (`make live`, or scripts/live-cluster.sh start) to compare it "
                    "with the emulator")
    return endpoint


@pytest.fixture(scope="module")
def sides(live_endpoint):
    endpoint = live_endpoint
    with mock_ais(kit.EMULATOR_ENDPOINT, emulator=Emulator(), passthrough=endpoint) as m:
        live = kit.Side("live", endpoint, kit.retries_off_client(endpoint))
        emulated = kit.Side("emulator", m.endpoint, kit.retries_off_client(m.endpoint),
                            emulator=m.emulator)
        try:
            yield live, emulated
        finally:
            live.close()
            emulated.close()


@pytest.fixture(scope="module")
def corpus(sides, request):
    """Bucket name of the shared read-only corpus (the test module's ``CORPUS``)."""
    objects = request.module.CORPUS
    custom = request.module.CORPUS_CUSTOM_MD
    name = kit.unique_bucket("corpus")
    try:
        for side in sides:
            side.client.bucket(name).create()
            side.put(name, objects)
            for obj, md in custom.items():
                side.client.bucket(name).object(obj).get_writer().set_custom_props(md)
        yield name
    finally:
        for side in sides:
            side.client.bucket(name).delete(missing_ok=True)
