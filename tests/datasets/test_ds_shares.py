"""Dealing units to rank x worker slots and equal work per rank: pure functions only."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest

from ais_datasets.shares import (
    check_even,
    deal,
    num_rounds,
    quotas,
    rank_total,
    spread,
    visits,
)

CASES = [(0, 2), (1, 2), (3, 4), (7, 2), (8, 2), (10, 3), (11, 4), (5, 5), (13, 1)]


def _all(n, world, workers, even, **kw):
    """{rank: [per-worker lists of (round, unit)]}"""
    return {r: [deal(n, r, world, w, workers, even, **kw) for w in range(workers)]
            for r in range(world)}


@pytest.mark.parametrize("n, world", CASES)
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_without_equal_work_every_unit_is_read_once(n, world, workers, shuffle):
    got = _all(n, world, workers, None, shuffle=shuffle, seed=3, epoch=5)
    units = [u for per_rank in got.values() for part in per_rank for _, u in part]
    assert sorted(units) == list(range(n))


@pytest.mark.parametrize("n, world", CASES)
@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_pad_gives_every_rank_the_same_rounds_and_reads_every_unit(n, world, workers,
                                                                   shuffle):
    got = _all(n, world, workers, "pad", shuffle=shuffle, seed=1, epoch=2)
    rounds = {r: sorted(k for part in parts for k, _ in part) for r, parts in got.items()}
    assert all(v == list(range(num_rounds(n, world, "pad"))) for v in rounds.values())
    per_worker = {r: [len(p) for p in parts] for r, parts in got.items()}
    assert len({tuple(v) for v in per_worker.values()}) == 1  # same shape on every rank
    units = Counter(u for parts in got.values() for part in parts for _, u in part)
    assert set(units) == set(range(n))  # at least once
    assert sum(units.values()) - n == (-n) % world  # the ranks short in the last round
    for parts in got.values():  # ... each repeat a unit it reads anyway, if it has any
        mine = Counter(u for part in parts for _, u in part)
        assert sum(mine.values()) - len(mine) <= 1 and max(mine.values(), default=1) <= 2
        if 0 < n < world:
            assert len(mine) == 1


@pytest.mark.parametrize("n, world", CASES)
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_reads_whole_rounds_only_and_nothing_twice(n, world, workers, shuffle):
    got = _all(n, world, workers, "drop", shuffle=shuffle, seed=9, epoch=1)
    units = [u for parts in got.values() for part in parts for _, u in part]
    assert len(units) == len(set(units)) == (n // world) * world
    assert set(units) == set(range((n // world) * world))  # the partial round is left out


def test_deal_without_shuffle_is_rank_strided_like_distributed_sampler():
    assert [u for _, u in deal(10, 1, 2)] == [1, 3, 5, 7, 9]
    assert deal(10, 1, 2, worker_id=0, num_workers=2) == [(0, 1), (2, 5), (4, 9)]
    assert [u for _, u in deal(7, 1, 2, even="pad")] == [1, 3, 5, 1]
    assert [u for _, u in deal(3, 3, 4, even="pad")] == [0]  # no unit of its own
    with pytest.raises(ValueError):
        deal(5, 2, 2)
    with pytest.raises(ValueError):
        deal(5, 0, 1, worker_id=1, num_workers=1)


def test_shuffle_changes_order_per_epoch_but_not_the_rounds():
    a = deal(40, 1, 4, shuffle=True, seed=2, epoch=0)
    b = deal(40, 1, 4, shuffle=True, seed=2, epoch=1)
    assert a != b and sorted(k for k, _ in a) == sorted(k for k, _ in b) == list(range(10))
    assert all(4 * k <= u < 4 * k + 4 for k, u in a + b)
    assert a == deal(40, 1, 4, shuffle=True, seed=2, epoch=0)
    # within a round, which rank gets which unit moves between epochs
    assert {u % 4 for _, u in a} != {1}


@pytest.mark.parametrize("even", ["pad", "drop"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_quotas_make_workers_equal_across_ranks_for_any_worker_count(even, shuffle):
    sizes = [5, 3, 4, 6, 2, 5, 3, 0, 7, 1, 4]
    for world, workers in itertools.product([2, 3, 4], [1, 2, 3]):
        totals = {}
        for r in range(world):
            per_worker = []
            for w in range(workers):
                rank_units = [u for _, u in deal(len(sizes), r, world, even=even,
                                                 shuffle=shuffle, seed=4, epoch=3)]
                reads = visits(deal(len(sizes), r, world, w, workers, even, shuffle=shuffle,
                                    seed=4, epoch=3), sizes, world, even, rank_units)
                assert all(0 < q <= sizes[u] for u, q in reads)
                per_worker.append(sum(q for _, q in reads))
            totals[r] = per_worker
        assert len({tuple(v) for v in totals.values()}) == 1, (world, workers, totals)
        assert sum(totals[0]) == rank_total(sizes, world, even)


def test_pad_and_drop_counts_of_an_uneven_corpus():
    sizes = [5, 3, 4, 6, 2, 5, 3]  # rounds of 2: (5, 3) (4, 6) (2, 5) (3, -)
    assert quotas([0, 1, 2, 3], sizes, 2, "pad") == [5, 6, 5, 3]
    assert quotas([0, 1, 2], sizes, 2, "drop") == [3, 4, 2]
    assert rank_total(sizes, 2, "pad") == 19 and rank_total(sizes, 2, "drop") == 9
    assert [rank_total(sizes, 2, None, r) for r in (0, 1)] == [14, 14]
    assert rank_total(sizes, 1, None) == sum(sizes)
    assert quotas([0], sizes, 2, None) is None
    # a unit shorter than its round's quota is read again from its start
    assert visits([(0, 1)], sizes, 2, "pad") == [(1, 3), (1, 2)]
    assert visits([(0, 0)], sizes, 2, "drop") == [(0, 3)]
    # an empty unit's quota comes from the reader's other units
    assert visits([(0, 0), (1, 3)], [0, 4, 6, 6], 2, "pad") == [(3, 4), (3, 6)]
    assert visits([(0, 0)], [0, 4], 2, "pad", [0]) == [(1, 4)]  # no data of its own


def test_spread_takes_a_quota_from_members_in_laps():
    assert spread(7, [3]) == [(0, 3), (0, 3), (0, 1)]
    assert spread(5, [2, 0, 2]) == [(0, 2), (2, 2), (0, 1)]
    assert spread(0, [4]) == [] and spread(3, [0, 0]) == []


def test_even_option_values():
    assert check_even("pad") == "pad" and check_even("drop") == "drop"
    assert check_even(None) is None and check_even(False) is None
    for bad in ("none", True, "even", 1):
        with pytest.raises(ValueError, match="even_ranks"):
            check_even(bad)
