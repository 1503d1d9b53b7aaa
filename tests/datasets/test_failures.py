"""The shard readers' error policy: what may be skipped, the error budget, and error
counts that reach the main process from DataLoader workers (fork and spawn)."""

from __future__ import annotations

import warnings

import pytest
import requests
from aistore.sdk.errors import AISError, ErrBckNotFound, ErrObjNotFound
from torch.utils.data import DataLoader

from ais_datasets import (
    AISShardReader,
    ErrorBudgetExceeded,
    ReadRetriesExhausted,
    RetryPolicy,
    ShardReadError,
    ShardReadWarning,
)
from ais_datasets import retry as retry_mod
from ais_datasets.failures import Budget, SharedStats, skippable


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch):
    monkeypatch.setattr(retry_mod.time, "sleep", lambda s: None)


def test_what_may_be_skipped():
    assert skippable(ShardReadError("bad"))
    assert skippable(ReadRetriesExhausted("x", 0, 3, OSError()))
    assert skippable(requests.ConnectionError("reset"))
    assert skippable(ErrObjNotFound(404, "gone", "u", None))
    assert skippable(AISError(503, "busy", "u", None))
    assert not skippable(ErrBckNotFound(404, "no bucket", "u", None))
    assert not skippable(AISError(403, "denied", "u", None))
    assert not skippable(AISError(401, "bad token", "u", None))
    assert not skippable(TypeError("a bug"))
    assert not skippable(KeyError("a bug"))
    assert not skippable(ErrorBudgetExceeded("over"))


def test_budget_counts_and_fractions():
    assert Budget(None).allowed(100) is None
    assert Budget(3).allowed(100) == 3
    assert Budget(0.1).allowed(100) == 10 and Budget(0.1).allowed(4) == 1
    Budget(2).check(2, 10, ValueError("x"))
    with pytest.raises(ErrorBudgetExceeded, match="3 of this reader's 10 shards failed"):
        Budget(2).check(3, 10, ValueError("x"))
    for bad in (1.5, -1, "1", True):
        with pytest.raises((ValueError, TypeError)):
            Budget(bad)


def _missing_shards(bucket, kit, missing: int, shards: int = 6):
    names, samples = kit.shard_corpus(bucket, shards=shards, per_shard=5)
    reader_args = {"prefix_map": {bucket: "shards/"}, "use_batch": False}
    return names, samples, reader_args


def test_skip_counts_the_samples_of_a_missing_shard(ais_mock, bucket, kit):
    names, samples, args = _missing_shards(bucket, kit, 1)
    reader = AISShardReader(bucket, on_error="skip", **args)
    assert len(reader) == len(samples)  # listed (and counted) first
    ais_mock.emulator.store.delete_object(ais_mock.emulator.bucket_id("ds"), names[2])
    got = list(reader)
    assert len(got) == len(samples) - 5
    stats = reader.error_stats
    assert (stats["shards_failed"], stats["samples_skipped"]) == (1, 5)
    assert names[2] in stats["last_error"]


def test_the_budget_stops_a_reader_that_loses_too_much(ais_mock, bucket, kit):
    names, samples, args = _missing_shards(bucket, kit, 3)
    reader = AISShardReader(bucket, on_error="warn", error_budget=2, **args)
    reader._full_index()
    for name in names[:3]:
        ais_mock.emulator.store.delete_object(ais_mock.emulator.bucket_id("ds"), name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ShardReadWarning)
        with pytest.raises(ErrorBudgetExceeded, match="3 of this reader's 6 shards failed"):
            list(reader)
    unlimited = AISShardReader(bucket, on_error="skip", error_budget=None, **args)
    assert len(list(unlimited)) == len(samples) - 15


def test_a_missing_bucket_and_a_bug_are_never_skipped(ais_mock, bucket, kit, monkeypatch):
    names, samples, args = _missing_shards(bucket, kit, 0)
    reader = AISShardReader(bucket, on_error="skip", **args)
    reader._full_index()
    ais_mock.emulator.store.destroy_bucket(ais_mock.emulator.bucket_id("ds"))
    with pytest.raises(ErrBckNotFound):
        list(reader)
    ais_mock.emulator.create_bucket("ds")
    kit.shard_corpus(bucket, shards=2, per_shard=2)
    import ais_datasets.shard_reader as sr

    def broken(*a, **kw):
        raise TypeError("a programming error")

    monkeypatch.setattr(sr, "iter_samples", broken)
    with pytest.raises(TypeError, match="programming error"):
        list(AISShardReader(bucket, on_error="skip", **args))


def test_shared_stats_pickle_fresh_outside_a_worker_start():
    import pickle

    stats = SharedStats()
    stats.add("boom", shards_failed=2, samples_skipped=3)
    copy = pickle.loads(pickle.dumps(stats))
    assert copy.totals()["shards_failed"] == 0
    assert stats.totals() == {"shards_failed": 2, "samples_skipped": 3,
                              "shards_unterminated": 0, "last_error": "boom"}
    stats.reset()
    assert stats.totals()["shards_failed"] == 0


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_error_stats_reach_the_main_process(context, ais_server, server_bucket, kit):
    """With num_workers=2 the counts of both workers are summed in the main process; the
    samples lost are exactly the samples not delivered."""
    names, samples = kit.shard_corpus(server_bucket, shards=6, per_shard=5)
    reader = AISShardReader(server_bucket, prefix_map={server_bucket: "shards/"},
                            use_batch=False, on_error="skip", error_budget=None,
                            retry=RetryPolicy(attempts=2))
    reader._full_index()
    len(reader)
    emu = ais_server.emulator
    emu.store.delete_object(emu.bucket_id(server_bucket.name), names[1])
    # cut bodies that no resume gets through, on two more shards
    rules = [emu.faults.add("reset", after=600, bucket=server_bucket.name, object=name)
             for name in names[3:5]]
    try:
        loader = DataLoader(reader, batch_size=None, num_workers=2,
                            multiprocessing_context=context)
        got = list(loader)
    finally:
        for rule in rules:
            emu.faults.remove(rule)
    stats = reader.error_stats
    assert stats["shards_failed"] == 3
    assert len(got) + stats["samples_skipped"] == len(samples)
    assert len({k for k, _ in got}) == len(got)
