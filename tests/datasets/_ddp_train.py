"""One rank of the DDP test (``test_ds_ddp.py``); run under ``torchrun``.

For each run in the settings (a dataset and its DataLoader), a training loop without a
model: each step all-reduces a tensor, as DDP's backward pass does, so a rank that runs
out of batches early leaves the others waiting in a collective (here they fail after
``timeout`` seconds instead of hanging). The datasets get no rank keywords: they split
because ``torch.distributed`` is initialised. Each rank writes what every epoch yielded
to ``<out>/rank<N>.json``. The settings come as JSON in the environment (``torchrun``
would take options after the script for its own where they abbreviate one of its).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import torch
import torch.distributed as dist
from aistore.sdk import Client
from torch.utils.data import DataLoader

from ais_datasets import AISShardReader

CONFIG = "AIS_DDP_TEST_CONFIG"  # JSON: endpoint, bucket, out, runs (settings of run())


def keys_of(batch):
    """collate_fn at module level, so that spawned workers can load it."""
    return [key for key, _ in batch]


def run(bucket, settings: dict) -> dict:
    """Train ``epochs`` epochs on one loader; what each epoch yielded on this rank."""
    opts = {"context": "fork", "persistent": False, "epochs": 2, "batch_size": 2,
            "workers": 2, **settings}
    ds = AISShardReader(bucket, prefix_map={bucket: "shards/"}, shuffle=True, seed=11,
                        shuffle_buffer=4, even_ranks=opts["even"])
    report = {**opts, "len": len(ds), "epochs": []}  # len(): counted here, once
    loader = DataLoader(ds, batch_size=opts["batch_size"], num_workers=opts["workers"],
                        collate_fn=keys_of, multiprocessing_context=opts["context"],
                        persistent_workers=opts["persistent"])
    for _ in range(opts["epochs"]):
        steps, keys = 0, []
        for batch in loader:
            grad = torch.tensor([float(len(batch))])
            dist.all_reduce(grad)  # every rank must take part in every step
            steps += 1
            keys += batch
        total = torch.tensor([float(steps)])
        dist.all_reduce(total)
        report["epochs"].append({"epoch": ds.epoch, "steps": steps, "keys": keys,
                                 "steps_all_ranks": int(total.item())})
    return report


def main() -> None:
    config = json.loads(os.environ[CONFIG])
    dist.init_process_group("gloo", timeout=timedelta(seconds=config.get("timeout", 60)))
    rank = dist.get_rank()
    bucket = Client(config["endpoint"]).bucket(config["bucket"])
    reports = [run(bucket, settings) for settings in config["runs"]]
    with open(os.path.join(config["out"], f"rank{rank}.json"), "w") as f:
        json.dump({"rank": rank, "world": dist.get_world_size(), "runs": reports}, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
