"""Epochs that advance by themselves: the shared clock, and DataLoader workers using it."""

from __future__ import annotations

import copy
import multiprocessing as mp
import pickle

import ais_ds_test_kit as kit
import pytest
from torch.utils.data import DataLoader

from ais_datasets import AISIterDataset, AISShardReader
from ais_datasets.epochs import MAX_WORKERS, EpochClock, reader_number


def test_each_reader_advances_on_its_own():
    clock = EpochClock()
    assert [clock.begin(0) for _ in range(3)] == [0, 1, 2]
    assert [clock.begin(2) for _ in range(2)] == [0, 1]  # worker 1: its own count
    assert clock.current(0) == 2 and clock.current(2) == 1 and clock.current(3) == 0


def test_pin_and_restart():
    clock = EpochClock()
    clock.begin(1)
    clock.pin(7)
    assert [clock.begin(1), clock.begin(2), clock.begin(0)] == [7, 7, 7]
    assert clock.pinned and clock.current() == 7
    clock.restart(3)  # a loaded state: resume epoch 3, then go on from there
    assert not clock.pinned and clock.current() == 3
    assert [clock.begin(1), clock.begin(1), clock.begin(2)] == [3, 4, 3]
    assert clock.current(0) == 4
    clock.restart(9, reader=2, shared=False)  # one worker loading its own state
    assert clock.current(2) == 9 and clock.begin(2) == 9 and clock.begin(1) == 5


def test_a_loaded_state_is_claimed_once_per_reader():
    clock = EpochClock()
    load = clock.new_load()
    assert clock.claim(1, load) and not clock.claim(1, load)
    assert clock.claim(2, load)
    assert clock.claim(1, clock.new_load())


def test_copies_are_independent_and_keep_the_numbers():
    clock = EpochClock(5)
    clock.begin(0)
    for twin in (pickle.loads(pickle.dumps(clock)), copy.deepcopy(clock)):
        assert twin.begin(0) == 6
    assert clock.begin(0) == 6


def test_a_child_process_shares_the_clock():
    ctx = mp.get_context("fork")  # spawned workers: test_dataloader_workers_advance_the_epoch
    clock = EpochClock()
    clock.begin(1)
    child = ctx.Process(target=clock.begin, args=(1,))  # the child's iteration: epoch 1
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert clock.current(0) == 1 and clock.begin(1) == 2  # its count is shared


def test_reader_numbers():
    assert reader_number(0, False) == 0 and reader_number(3, True) == 4
    with pytest.raises(ValueError, match="at most"):
        reader_number(MAX_WORKERS, True)


# ---------------------------------------------------------------- datasets and loaders

def test_each_iteration_starts_the_next_epoch(bucket):
    kit.object_corpus(bucket, 12)
    ds = AISIterDataset(bucket, shuffle=True, seed=1)
    assert ds.epoch == 0
    epochs = [[n for n, _ in ds] for _ in range(3)]
    assert ds.epoch == 2 and len({tuple(e) for e in epochs}) == 3
    for e, got in enumerate(epochs):
        pinned = AISIterDataset(bucket, shuffle=True, seed=1)
        pinned.set_epoch(e)
        assert [n for n, _ in pinned] == got == [n for n, _ in pinned]


def _epochs(ds, loader_kw, passes):
    loader = DataLoader(ds, batch_size=None, num_workers=2, **loader_kw)
    return [[s[0] for s in loader] for _ in range(passes)]


def _reference(bucket, epoch):
    ds = AISShardReader(bucket, shuffle=True, seed=4, shuffle_buffer=3)
    ds.set_epoch(epoch)
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
    return [s[0] for s in loader]


@pytest.mark.parametrize("context, persistent", [("fork", False), ("spawn", True)])
def test_dataloader_workers_advance_the_epoch(server_bucket, context, persistent):
    kit.shard_corpus(server_bucket, shards=5, per_shard=3)
    ds = AISShardReader(server_bucket, shuffle=True, seed=4, shuffle_buffer=3)
    kw = {"multiprocessing_context": context, "persistent_workers": persistent}
    loader = DataLoader(ds, batch_size=None, num_workers=2, **kw)
    got = [[s[0] for s in loader] for _ in range(2)]
    assert ds.epoch == 1  # the main process sees the workers' epoch
    assert got == [_reference(server_bucket, 0), _reference(server_bucket, 1)]
    ds.set_epoch(0)  # reaches persistent workers too
    assert [s[0] for s in loader] == got[0]


def test_resuming_restores_the_epoch_with_workers(server_bucket):
    kit.shard_corpus(server_bucket, shards=4, per_shard=3)
    ds = AISShardReader(server_bucket, shuffle=True, seed=4, shuffle_buffer=3)
    ds.load_state_dict({"epoch": 2, "samples_seen": 4, "batch_size": 1})
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
    rest = [s[0] for s in loader]
    assert rest == _reference(server_bucket, 2)[4:]
    assert [s[0] for s in loader] == _reference(server_bucket, 3)  # then the next epoch


def test_a_finished_epoch_state_resumes_with_the_next_epoch(bucket):
    kit.object_corpus(bucket, 5)
    ds = AISIterDataset(bucket, shuffle=True, seed=2)
    list(ds)
    state = ds.state_dict()
    assert state["end_of_epoch"] and state["epoch"] == 0
    again = AISIterDataset(bucket, shuffle=True, seed=2)
    again.load_state_dict(state)
    assert again.epoch == 1 and [n for n, _ in again] == [n for n, _ in ds]  # ds: epoch 1
