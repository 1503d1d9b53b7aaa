"""The README's Python examples run as written, against ``mock_ais()`` with seeded buckets.

Each fenced ``python`` block of README.md is executed in a fresh namespace inside one
in-process emulator at ``http://localhost:8080`` holding the buckets the examples name.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from emulator._tars import shard  # tests/emulator, on the path as ``emulator``

from ais_emulator import mock_ais
from ais_emulator.pytest_plugin import Backend

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _seed(emu) -> None:
    emu.create_bucket("images")
    for i in range(24):
        emu.put_object("images", f"train/{i:03d}.jpg", bytes([i]) * (1000 + 97 * i))
    emu.create_bucket("videos")
    emu.put_object("videos", "clip.mp4", bytes(range(256)) * 4096)
    emu.create_bucket("shards")
    for s in range(3):
        emu.put_object("shards", f"shard-{s}.tar", shard(
            [(f"{s}-{i:03d}.{ext}", f"{s}/{i}/{ext}".encode())
             for i in range(10) for ext in ("cls", "jpg")]))
    emu.create_bucket("pairs")
    for s in range(2):
        emu.put_object("pairs", f"img-{s}.tar", shard([(f"{i}.jpg", b"I%d" % i) for i in range(5)]))
        emu.put_object("pairs", f"lbl-{s}.tar", shard([(f"{i}.cls", b"L%d" % i) for i in range(5)]))


def test_readme_has_examples():
    assert len(BLOCKS) >= 9


@pytest.mark.parametrize("block", range(len(BLOCKS)))
def test_readme_example_runs(block, tmp_path, monkeypatch):
    code = BLOCKS[block]
    monkeypatch.chdir(tmp_path)
    with mock_ais("http://localhost:8080") as ais:
        _seed(ais.emulator)
        namespace: dict = {"__name__": "readme_example"}
        exec(compile(code, f"README.md[python block {block}]", "exec"), namespace)  # noqa: S102
        tests = [fn for name, fn in namespace.items() if name.startswith("test_")]
        for fn in tests:
            if not inspect.signature(fn).parameters:
                fn()
                continue
            # fixture examples: call them with a real Backend
            backend = Backend("inprocess", ais.endpoint, ais.client(), ais.emulator)
            try:
                fn(backend)
                created = [b.name for b in backend._buckets]
                assert created, "the example should have created a bucket"
            finally:
                backend.cleanup()
            names = {b.name for b in ais.client().cluster().list_buckets()}
            assert not set(created) & names, "the example's bucket outlived its teardown"
            assert "images" in names
