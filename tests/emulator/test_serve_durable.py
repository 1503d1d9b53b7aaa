"""``serve --data-dir`` and ``--load`` as a process, ``EmulatorServer(data_dir=...)``, and
many clients on the same names at once (no torn or mixed reads, consistent listings)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import pytest
import requests
from aistore.sdk import Client

from ais_emulator import EmulatorServer
from ais_emulator.seeding import SeedError, parse_load_spec
from emulator._durable import Raw, ServerProc, intact, payload


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    (root / "img" / "deep").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "img" / "0001.jpg").write_bytes(payload("jpg", 5000))
    (root / "img" / "deep" / "x.bin").write_bytes(payload("x", 3 << 20))
    (root / "empty").write_bytes(b"")
    os.symlink(root / "a.txt", root / "link.txt")
    return root


def test_load_and_restart(tmp_path, corpus):
    data = str(tmp_path / "ais-data")
    srv = ServerProc(data, "--load", f"ais://seeded={corpus}")
    try:
        raw = Raw(srv.url, "seeded")
        names = ["a.txt", "empty", "img/0001.jpg", "img/deep/x.bin", "link.txt"]
        assert raw.names() == names
        for name in names:
            r = raw.get(name)
            assert r.status_code == 200
            assert intact(r) == (corpus / name).read_bytes()
        assert raw.put("extra", b"mine").status_code == 200
        raw.close()
        out = srv.stop()
        assert "5 objects stored" in out and "0 unchanged" in out
        (corpus / "a.txt").write_bytes(b"ALPHA")  # one file changed
        srv = ServerProc(data, "--load", f"ais://seeded={corpus}")
        raw = Raw(srv.url, "seeded")
        assert raw.names() == sorted(names + ["extra"])  # loading adds, never removes
        versions = {n: raw.get(n).headers["Ais-Version"] for n in names}
        changed = ("a.txt", "link.txt")  # link.txt is a link to a.txt
        assert versions == {n: "2" if n in changed else "1" for n in names}
        assert intact(raw.get("a.txt")) == intact(raw.get("link.txt")) == b"ALPHA"
        raw.close()
        out = srv.stop()
        assert "2 objects stored" in out and "3 unchanged" in out
        assert "(1 buckets, 6 objects)" in out
    finally:
        if srv.proc.poll() is None:
            srv.kill()


def test_load_into_memory_without_a_data_dir(corpus):
    proc = subprocess.Popen([sys.executable, "-m", "ais_emulator", "serve", "--port", "0",
                             "--load", f"ais://m={corpus}", "--load", f"s3://r={corpus}/img"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[-1].rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://"), lines
        c = Client(url)
        assert c.bucket("m").object("img/0001.jpg").get_reader().read_all() == payload("jpg", 5000)
        assert [o.name for o in c.bucket("r", provider="aws").list_all_objects()] == [
            "0001.jpg", "deep/x.bin"]
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


@pytest.mark.parametrize("args, message", [
    (["--load", "ais://b"], "expecting PROVIDER://BUCKET=PATH"),
    (["--load", "b=/tmp"], "expecting PROVIDER://BUCKET=PATH"),
    (["--load", "ais://b/c=/tmp"], "expecting PROVIDER://BUCKET=PATH"),
])
def test_bad_load_specs_are_usage_errors(args, message):
    proc = subprocess.run([sys.executable, "-m", "ais_emulator", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr


@pytest.mark.parametrize("what", ["missing", "bad-bucket", "foreign-dir"])
def test_unusable_load_or_data_dir_exits_1(tmp_path, what):
    args = {"missing": ["--load", f"ais://b={tmp_path}/nope"],
            "bad-bucket": ["--load", f"ais://Bad*Name={tmp_path}"],
            "foreign-dir": ["--data-dir", str(tmp_path)]}[what]
    (tmp_path / "mine.txt").write_text("not the emulator's")
    proc = subprocess.run([sys.executable, "-m", "ais_emulator", "serve", "--port", "0", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert {"missing": "not a directory", "bad-bucket": "bucket name is invalid",
            "foreign-dir": "not an ais-emulator data dir"}[what] in proc.stderr
    assert (tmp_path / "mine.txt").read_text() == "not the emulator's"


def test_parse_load_spec():
    assert parse_load_spec("ais://b=/x=y") == ("ais", "b", "/x=y")
    with pytest.raises(SeedError):
        parse_load_spec("://b=/x")


def test_server_restart_keeps_data(tmp_path):
    srv = EmulatorServer(port=0, data_dir=str(tmp_path / "d"))
    with srv:
        bck = Client(srv.url).bucket("b")
        bck.create()
        bck.object("o").get_writer().put_content(b"durable")
        first = srv.emulator
    assert first.store.closed
    with srv:
        assert srv.emulator is not first
        assert Client(srv.url).bucket("b").object("o").get_reader().read_all() == b"durable"
    with pytest.raises(ValueError):
        EmulatorServer(emulator=first, data_dir=str(tmp_path / "d"))


# -- many clients, the same names ---------------------------------------------------------


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "data-dir"])
def test_concurrent_clients_never_see_torn_objects(tmp_path, durable):
    """8 threads PUT, GET, DELETE, append and list the same few names for 2 s: every GET
    returns one whole version (a payload that only one PUT wrote, matching its checksum
    header) and every listing is one consistent snapshot (no name twice, sorted, and each
    listed name had an object at some point)."""
    srv = EmulatorServer(port=0, data_dir=str(tmp_path / "d") if durable else None).start()
    names = [f"n{i}" for i in range(4)]
    written, errors, counts = set(), [], {"get": 0, "list": 0}
    lock = threading.Lock()
    stop = time.monotonic() + 2.0

    def client(seed: int) -> None:
        rng, raw = random.Random(seed), Raw(srv.url, "c")
        try:
            while time.monotonic() < stop:
                name, op = rng.choice(names), rng.random()
                if op < 0.35:
                    tag = f"{name}:{seed}:{rng.random()}"
                    with lock:
                        written.add(tag)
                    data = payload(tag, rng.choice((100, 5000, 300_000)))
                    assert raw.put(name, data).status_code == 200
                elif op < 0.75:
                    r = raw.get(name)
                    if r.status_code == 404:
                        continue
                    body = intact(r)
                    tag = body[1:body.index(b">")].decode()
                    with lock:
                        assert tag in written, f"{name}: unknown content {body[:40]!r}"
                        counts["get"] += 1
                    assert body == payload(tag, len(body)), f"{name}: mixed content"
                elif op < 0.85:
                    assert raw.delete(name).status_code in (200, 404)
                elif op < 0.92:
                    h = raw.append(f"log{seed}", "", b"x").headers["Ais-Append-Handle"]
                    assert raw.flush(f"log{seed}", h).status_code == 200
                else:
                    listed = raw.names()
                    assert listed == sorted(set(listed))
                    assert set(listed) <= set(names) | {f"log{s}" for s in range(8)}
                    with lock:
                        counts["list"] += 1
        except (AssertionError, requests.RequestException) as e:
            errors.append(e)
        finally:
            raw.close()

    try:
        Raw(srv.url, "c").create_bucket()
        threads = [threading.Thread(target=client, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        assert counts["get"] > 20 and counts["list"] > 2
    finally:
        srv.stop()
