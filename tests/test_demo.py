"""scripts/demo.py never reads, overwrites or deletes data it did not write.

Run against a real ``EmulatorServer`` (the demo's DataLoader workers are processes), as a
cluster it does not own: the buckets and objects seeded here stand for a user's data.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from ais_emulator import EmulatorServer

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"
SMALL = ["--shards", "2", "--samples-per-shard", "5", "--sample-size", "300", "--no-progress"]


def _load_demo():
    name = "ais_demo_script"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


demo = _load_demo()


@pytest.fixture
def cluster():
    """A server holding a user's bucket with a foreign (non-WebDataset) object."""
    with EmulatorServer(host="127.0.0.1", port=0) as srv:
        srv.emulator.create_bucket("users-data")
        srv.emulator.put_object("users-data", "notes.txt", b"precious")
        srv.emulator.put_object("users-data", "demo-run-x/shard-00000.tar", b"mine!")
        yield srv


def _state(srv) -> dict:
    """{bucket: {object: bytes}} of everything on the server, as the SDK sees it."""
    from aistore.sdk import Client

    client = Client(srv.url)
    out = {}
    for bck in client.cluster().list_buckets():
        bucket = client.bucket(bck.name)
        out[bck.name] = {e.name: bucket.object(e.name).get_reader().read_all()
                         for e in bucket.list_all_objects()}
    return out


def test_refuses_a_nonempty_bucket(cluster, capsys):
    before = _state(cluster)
    status = demo.main(["--endpoint", cluster.url, "--bucket", "users-data", "--workers", "0",
                        *SMALL])
    assert status == 2
    err = capsys.readouterr().err
    assert "refusing ais://users-data" in err and "--allow-nonempty-bucket" in err
    assert "'demo-run-x/shard-00000.tar'" in err or "'notes.txt'" in err
    assert _state(cluster) == before  # nothing written, nothing removed


def test_nonempty_bucket_when_allowed_touches_only_its_own_objects(cluster, capsys):
    before = _state(cluster)
    status = demo.main(["--endpoint", cluster.url, "--bucket", "users-data",
                        "--allow-nonempty-bucket", "--workers", "0", *SMALL])
    out = capsys.readouterr().out
    assert status == 0, out
    # it read only its own 10 samples (the foreign tar-named object would fail to parse)
    assert "read 10 samples" in out and "exactly once: OK" in out
    assert _state(cluster) == before  # its objects are gone, the user's bucket is kept


def test_keep_leaves_only_its_own_objects(cluster, capsys):
    status = demo.main(["--endpoint", cluster.url, "--bucket", "users-data",
                        "--allow-nonempty-bucket", "--keep", "--workers", "0", *SMALL])
    assert status == 0
    objects = set(_state(cluster)["users-data"])
    added = objects - {"notes.txt", "demo-run-x/shard-00000.tar"}
    assert len(added) == 2 and all(n.endswith(".tar") for n in added)
    assert len({n.split("/")[0] for n in added}) == 1  # one unique prefix of its own
    assert cluster.emulator.get_object("users-data", "notes.txt") == b"precious"


def test_default_uses_a_fresh_bucket_and_removes_only_it(cluster, capsys):
    before = _state(cluster)
    assert demo.main(["--endpoint", cluster.url, *SMALL]) == 0  # two forked workers
    out = capsys.readouterr().out
    assert "ais://ais-datasets-demo-" in out and "exactly once: OK" in out
    assert _state(cluster) == before


def test_a_missing_named_bucket_is_created_and_removed(cluster, capsys):
    assert demo.main(["--endpoint", cluster.url, "--bucket", "scratch", "--workers", "0",
                      *SMALL]) == 0
    assert "scratch" not in _state(cluster)


def test_an_existing_empty_bucket_is_used_and_kept(cluster, capsys):
    cluster.emulator.create_bucket("empty")
    assert demo.main(["--endpoint", cluster.url, "--bucket", "empty", "--workers", "0",
                      *SMALL]) == 0
    assert _state(cluster)["empty"] == {}


def test_help_reads_whole():
    with pytest.raises(SystemExit) as info:
        demo._parse_args(["--help"])
    assert info.value.code == 0
