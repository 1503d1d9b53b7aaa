"""Distributed data parallel training with gloo on CPU: 2 ranks x 2 DataLoader workers.

``torchrun`` starts the ranks (``_ddp_train.py``); every step all-reduces, so unequal
work would leave a rank waiting. The corpus's 7 shards of different sizes divide
unevenly between the ranks. The runs go to the emulator's HTTP server, or unchanged to
a real cluster in live mode (a fresh bucket, deleted afterwards)::

    python -m pytest tests/datasets -k ddp --ais-live=http://127.0.0.1:51180
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import ais_ds_test_kit as kit
import pytest

from ais_datasets.shares import rank_total
from ais_emulator.pytest_plugin import live_endpoint

HERE = Path(__file__).resolve().parent
README = HERE.parents[1] / "README.md"
SIZES = [5, 3, 4, 6, 2, 5, 3]
RUN_TIMEOUT_S = 240  # a hang fails the run: the ranks' collectives time out after 60 s

pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 60)


@pytest.fixture(scope="module")
def ddp_run(request, tmp_path_factory):
    """One torchrun launch: the runs of ``RUNS``, then the README's example.

    Returns (each rank's report, torchrun's output, the corpus's sample keys).
    """
    from aistore.sdk import Client

    endpoint = (live_endpoint(request.config)
                or request.getfixturevalue("ais_server_session").url)
    bucket = Client(endpoint).bucket(f"ddp-{uuid.uuid4().hex[:10]}").create()
    try:
        corpus = _corpus(bucket)
        out = tmp_path_factory.mktemp("ddp")
        script = out / "train_ddp.py"
        script.write_text(_readme_ddp_example())
        config = {"endpoint": endpoint, "bucket": bucket.name, "out": str(out), "runs": RUNS}
        output = _torchrun(HERE / "_ddp_train.py", {"AIS_DDP_TEST_CONFIG": json.dumps(config)})
        # the README's example in a launch of its own: a second process group in the same
        # launch may read the first one's stale rendezvous keys (gloo then connects to a
        # port already closed)
        output += _torchrun(script, {"AIS_ENDPOINT": endpoint, "SHARDS_BUCKET": bucket.name})
        reports = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
        yield reports, output, corpus
    finally:
        bucket.delete(missing_ok=True)


def _corpus(bucket) -> list[str]:
    keys = []
    for s, n in enumerate(SIZES):
        members = kit.shard_members(s, n)
        bucket.object(f"shards/shard-{s:02d}.tar").get_writer().put_content(
            kit.make_tar(members))
        keys += kit.keys(kit.group(members))
    return keys


def _torchrun(script: Path, env: dict) -> str:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", str(script)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout}\n{done.stderr[-6000:]}"
    return done.stdout


def _readme_ddp_example() -> str:
    blocks = re.findall(r"```python\n(# train_ddp\.py.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1, "README.md should have one train_ddp.py example"
    return blocks[0]


RUNS = [
    # drop, forked workers started anew each epoch: they inherit the process group
    {"even": "drop", "context": "fork", "persistent": False},
    # pad, persistent workers started by a fork server: the dataset is pickled into
    # them, and they get the ranks and the epoch count from the main process
    {"even": "pad", "context": "forkserver", "persistent": True},
]


@pytest.mark.parametrize("run", range(len(RUNS)), ids=[r["even"] for r in RUNS])
def test_ddp_ranks_run_equal_steps_over_uneven_shards(ddp_run, run):
    reports, _, corpus = ddp_run
    assert [r["world"] for r in reports] == [2, 2]
    even = RUNS[run]["even"]
    runs = [r["runs"][run] for r in reports]
    per_rank = rank_total(SIZES, 2, even)  # 19 with pad, 9 with drop
    assert [r["len"] for r in runs] == [per_rank, per_rank]
    orders = []
    for e in range(2):
        epochs = [r["epochs"][e] for r in runs]
        steps = [x["steps"] for x in epochs]
        assert steps[0] == steps[1] and epochs[0]["steps_all_ranks"] == 2 * steps[0]
        assert [x["epoch"] for x in epochs] == [e, e]  # the epoch advanced by itself
        assert [len(x["keys"]) for x in epochs] == [per_rank, per_rank]
        seen = Counter(epochs[0]["keys"] + epochs[1]["keys"])
        if even == "pad":
            assert set(seen) == set(corpus)  # every sample at least once
        else:
            assert max(seen.values()) == 1 and set(seen) < set(corpus)  # none twice
            assert len(seen) == 2 * per_rank
        orders.append(epochs[0]["keys"])
    assert orders[0] != orders[1]  # a new order in the second epoch


def test_ddp_readme_example_runs_under_torchrun(ddp_run):
    _, output, _ = ddp_run
    steps = {(r, e): n for r, e, n in re.findall(r"rank (\d) epoch (\d): (\d+) steps",
                                                 output)}
    assert set(steps) == {(r, e) for r in "01" for e in "01"}, output
    assert steps["0", "0"] == steps["1", "0"] and steps["0", "1"] == steps["1", "1"], output
    assert re.findall(r"rank \d: (\d+) samples per epoch", output) == [
        str(rank_total(SIZES, 2, "pad"))] * 2
