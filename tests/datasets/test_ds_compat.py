"""Drop-in surface: names, modules, constructor signatures and the utils helpers."""

from __future__ import annotations

import importlib
import inspect

import pytest

import ais_datasets

UPSTREAM = {
    "AISBaseMapDataset": "base_map_dataset",
    "AISMapDataset": "map_dataset",
    "AISParallelMapDataset": "parallel_map_dataset",
    "AISBaseIterDataset": "base_iter_dataset",
    "AISIterDataset": "iter_dataset",
    "AISBatchIterDataset": "batch_iter_dataset",
    "AISShardReader": "shard_reader",
    "AISMultiShardStream": "multishard_dataset",
    "DynamicBatchSampler": "dynamic_sampler",
}


def _positional(sig):
    return [(p.name, p.default, p.kind) for p in sig.parameters.values()
            if p.kind is not inspect.Parameter.KEYWORD_ONLY]


@pytest.mark.parametrize("name, module", sorted(UPSTREAM.items()))
def test_same_module_name_and_constructor(name, module):
    theirs = getattr(importlib.import_module(f"aistore.pytorch.{module}"), name)
    ours = getattr(importlib.import_module(f"ais_datasets.{module}"), name)
    assert getattr(ais_datasets, name) is ours
    assert _positional(inspect.signature(ours.__init__)) == \
        _positional(inspect.signature(theirs.__init__))
    extra = [p for p in inspect.signature(ours.__init__).parameters.values()
             if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert all(p.default is not inspect.Parameter.empty for p in extra)


def test_root_exports_upstream_root_and_more():
    import aistore.pytorch as upstream

    upstream_names = {n for n in dir(upstream) if n.startswith(("AIS", "Dynamic"))}
    assert upstream_names <= set(ais_datasets.__all__)
    assert {"AISBatchIterDataset", "AISParallelMapDataset", "ShardReadError"} <= \
        set(ais_datasets.__all__)
    assert issubclass(ais_datasets.ShardReadError, ValueError)


def test_zero_dict_is_nested_and_fills_known_keys():
    zd = ais_datasets.AISShardReader.ZeroDict({"jpg": b"1"}, {"jpg", "cls"})
    assert zd == {"jpg": b"1", "cls": b""} and isinstance(zd, dict)


@pytest.mark.parametrize("name", ["a/b/x.seg.png", "x", "x.tar.gz", "dir.v1/file", ".rc",
                                  "a/b/", "plain.txt"])
def test_utils_helpers_match_upstream(name):
    from aistore.pytorch import utils as theirs

    from ais_datasets import utils as ours

    assert ours.get_basename(name) == theirs.get_basename(name)
    assert ours.get_extension(name) == theirs.get_extension(name)


def test_utils_conversions_and_urls_match_upstream():
    from aistore.pytorch import utils as theirs

    from ais_datasets import utils as ours

    assert ours.MB_TO_B == theirs.MB_TO_B
    for mb in (0, 1, 1.5, 0.0000015, 123.456789):
        assert ours.convert_mb_to_bytes(mb) == theirs.convert_mb_to_bytes(mb)
    assert ours.convert_bytes_to_mb(2_500_000) == theirs.convert_bytes_to_mb(2_500_000)
    assert ours.unparse_url("ais", "b", "o/x.txt") == theirs.unparse_url("ais", "b", "o/x.txt")
    assert ours.parse_url("gcp://bkt/a/b.txt") == ("gcp", "bkt", "a/b.txt")


@pytest.mark.parametrize("name", ["AISShardReader", "AISMultiShardStream", "AISIterDataset",
                                  "AISBatchIterDataset"])
def test_new_options_are_keyword_only(name):
    params = inspect.signature(getattr(ais_datasets, name).__init__).parameters
    for option in ("shuffle", "seed", "rank", "world_size"):
        assert params[option].kind is inspect.Parameter.KEYWORD_ONLY
    for cls in ("AISShardReader", "AISMultiShardStream"):
        p = inspect.signature(getattr(ais_datasets, cls).__init__).parameters
        assert p["on_error"].default == "raise" and p["shuffle_buffer"].default == 1000
    assert getattr(ais_datasets, name).set_epoch
