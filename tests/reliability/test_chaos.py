"""The chaos tier: every dataset class, read through a DataLoader while the emulator
injects 503s, mid-body resets, truncated bodies and latency, delivers every sample exactly
once with the right bytes, on both transports, with 0 and 2 workers; plus one run under a
slow network. Seeded: the same faults on every run (``chaos.TIER_MIX``)."""

from __future__ import annotations

import uuid
import zlib

import pytest
from aistore.sdk import Client

from ais_datasets import RetryPolicy
from ais_emulator import Emulator, mock_ais

from . import chaos

pytestmark = pytest.mark.timeout(120)

# a stall or dead connection must end in seconds here, not in the SDK's 20 s
RETRY = RetryPolicy(timeout=(2, 2))
SETUPS = ("inprocess-0", "server-0", "server-2")


@pytest.fixture(scope="module")
def server_corpus(ais_server_session):
    """One corpus on the session's server for the whole module (own bucket)."""
    bucket = f"chaos-{uuid.uuid4().hex[:8]}"
    corpus = chaos.build_corpus(ais_server_session.emulator, bucket)
    yield corpus
    Client(ais_server_session.url).bucket(bucket).delete(missing_ok=True)


@pytest.fixture(scope="module")
def mock_emulator():
    emu = Emulator()
    return emu, chaos.build_corpus(emu, "chaos")


def _seed(case: str, setup: str) -> int:
    return zlib.crc32(f"{case}/{setup}".encode())


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("case", chaos.CASES)
def test_exactly_once_under_faults(case, setup, ais_server_session, server_corpus, mock_emulator):
    transport, workers = setup.split("-")
    if transport == "inprocess":
        emu, corpus = mock_emulator
        ctx = mock_ais("http://localhost:8080", emulator=emu)
    else:
        emu, corpus, ctx = ais_server_session.emulator, server_corpus, None
    # the bucket filter spares other tests' traffic on the shared server
    rules = chaos.install(emu.faults, chaos.TIER_MIX, seed=_seed(case, setup),
                          bucket=corpus.bucket)
    try:
        if ctx is not None:
            with ctx as m:
                outcome = chaos.run_case(case, corpus, m.client(), int(workers), retry=RETRY)
        else:
            outcome = chaos.run_case(case, corpus, Client(ais_server_session.url), int(workers),
                                     retry=RETRY)
    finally:
        for rule in rules:
            emu.faults.remove(rule)
    fired = chaos.fired(rules)
    assert fired["reset"] >= 1, fired  # at least the certain mid-body reset
    assert (outcome.duplicates, outcome.missing, outcome.wrong) == (0, 0, 0), outcome
    assert outcome.delivered == outcome.expected, outcome
    if outcome.error_stats:
        assert outcome.error_stats["shards_failed"] == 0, outcome.error_stats


@pytest.mark.parametrize("case", ["AISShardReader(use_batch=False)", "AISIterDataset",
                                  "AISMapDataset[i]"])
def test_slow_network(case, ais_server_session, server_corpus):
    """Latency on every request and a bandwidth cap on every body: nothing breaks, it
    only takes longer."""
    rules = chaos.install(ais_server_session.emulator.faults, chaos.SLOW_NETWORK, seed=7,
                          bucket=server_corpus.bucket)
    try:
        outcome = chaos.run_case(case, server_corpus, Client(ais_server_session.url), 0,
                                 retry=RETRY)
    finally:
        for rule in rules:
            ais_server_session.emulator.faults.remove(rule)
    assert rules[0].fired > 0 and rules[1].fired > 0
    assert outcome.exact, outcome
