"""Topology from one function, and the pure splitting / shuffling / accounting helpers."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ais_datasets.topology import (
    Topology,
    current_topology,
    dataloader_resume_point,
    mix64,
    permutation,
    rank_and_world_size,
)


def test_defaults_without_distributed_or_env(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert rank_and_world_size() == (0, 1)
    assert current_topology() == Topology(0, 1, 0, 1)


def test_env_vars_only_with_the_opt_in_and_overrides_win(monkeypatch):
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert rank_and_world_size() == (0, 1)  # a stale environment does not split
    assert rank_and_world_size(from_env=True) == (2, 4)
    assert rank_and_world_size(rank=1, from_env=True) == (1, 4)
    assert rank_and_world_size(rank=0, world_size=1, from_env=True) == (0, 1)
    topo = current_topology(from_env=True)
    assert (topo.slot, topo.num_slots) == (2, 4)
    assert current_topology() == Topology(0, 1, 0, 1)


@pytest.mark.parametrize("rank, world", [(2, 2), (-1, 2), (0, 0)])
def test_invalid_topology_raises(rank, world):
    with pytest.raises(ValueError):
        rank_and_world_size(rank, world)


def test_bad_env_value_raises(monkeypatch):
    monkeypatch.setenv("RANK", "first")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="RANK"):
        rank_and_world_size(from_env=True)
    assert rank_and_world_size() == (0, 1)  # not read without the opt-in


def test_inherited_ranks_come_after_torch_distributed_and_before_env(monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert rank_and_world_size(inherited=(3, 4), from_env=True) == (3, 4)
    assert rank_and_world_size(2, 8, inherited=(3, 4)) == (2, 8)


def test_torch_distributed_wins_over_env(monkeypatch, tmp_path):
    import torch.distributed as dist

    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "9")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0,
                            world_size=1)
    try:
        assert rank_and_world_size(from_env=True, inherited=(1, 2)) == (0, 1)
    finally:
        dist.destroy_process_group()
    assert rank_and_world_size(from_env=True) == (5, 9)


def test_slots_of_rank_tile_the_job():
    slots = [Topology(r, 3, w, 4).slot for r in range(3) for w in range(4)]
    assert slots == list(range(12))
    assert list(Topology(1, 3, 2, 4).slots_of_rank()) == [4, 5, 6, 7]


def test_permutation_depends_only_on_seed_epoch_and_salt():
    a = permutation(50, seed=3, epoch=1)
    assert a == permutation(50, seed=3, epoch=1)
    assert sorted(a) == list(range(50))
    assert a != permutation(50, seed=3, epoch=2)
    assert a != permutation(50, seed=4, epoch=1)
    assert permutation(50, 3, 1, 7) != a
    assert mix64(1, 2) != mix64(2, 1) and 0 <= mix64(-1, 2**70) < 2**64


@pytest.mark.parametrize("totals, batch, seen, expected", [
    ([5, 5], 2, 0, [0, 0]),
    ([5, 5], 2, 4, [2, 2]),
    ([5, 5], 2, 5, [3, 2]),
    ([1, 6], 2, 3, [1, 2]),  # worker 0 runs dry after one short batch
    ([1, 6], 2, 7, [1, 6]),
    ([0, 4, 4], 3, 5, [0, 3, 2]),
])
def test_dataloader_consumed_cases(totals, batch, seen, expected):
    assert dataloader_resume_point(totals, batch, seen)[0] == expected


def test_dataloader_consumed_rejects_too_many():
    with pytest.raises(ValueError):
        dataloader_resume_point([2, 2], 1, 5)
    assert dataloader_resume_point([5, 3], 2, 6, drop_last=True)[0] == [4, 2]


class _Counting(IterableDataset):
    """Worker k yields (k, i) for i < TOTALS[k]."""

    TOTALS = [7, 2]

    def __iter__(self):
        k = get_worker_info().id
        for i in range(self.TOTALS[k]):
            yield torch.tensor([k, i])


@pytest.mark.parametrize("drop_last", [False, True])
def test_dataloader_consumed_matches_a_real_dataloader(drop_last):
    loader = DataLoader(_Counting(), batch_size=2, num_workers=2, drop_last=drop_last,
                        multiprocessing_context="fork")
    seen = [0, 0]
    received = 0
    for batch in loader:
        for k, _ in batch.tolist():
            seen[k] += 1
        received += len(batch)
        assert dataloader_resume_point(_Counting.TOTALS, 2, received, drop_last)[0] == seen
