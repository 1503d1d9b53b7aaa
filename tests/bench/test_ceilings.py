"""The benchmark ceilings measure what they claim: the same requests, every byte read.

Benchmarks are not tests, but a ceiling that sent other requests, skipped bytes or
mis-split work would make every ratio of the report wrong; this checks the mechanism
against an ``EmulatorServer`` (and a redirecting front, as an AIStore proxy is).
"""

from __future__ import annotations

import http.server
import threading

import pytest
from aistore.sdk import Client
from torch.utils.data import DataLoader

from ais_emulator.shards import make_samples, make_shards, put_shards
from benchmarks import ceilings


@pytest.fixture
def corpus(ais_server):
    bucket = Client(ais_server.url).bucket("c").create()
    blobs = {f"o/{i:03d}.bin": bytes([i]) * (1000 + i) for i in range(12)}
    for name, data in blobs.items():
        bucket.object(name).get_writer().put_content(data)
    return bucket, blobs


def _read_all(bucket):
    return [(e.name, bucket.object(e.name).get_reader().read_all())
            for e in bucket.list_all_objects()]


def test_capture_records_the_requests_and_replay_reads_every_byte(corpus):
    bucket, blobs = corpus
    reqs = ceilings.capture(lambda: _read_all(bucket))
    assert ceilings.pattern(reqs) == "12 GET + 1 list"
    assert ceilings.threads_of(reqs) == 1
    assert [r.url.split("?")[0].rsplit("/", 2)[-2:] for r in reqs[1:]] == \
        [["o", n.split("/")[1]] for n in sorted(blobs)]
    total = sum(len(b) for b in blobs.values())
    listing = ceilings.replay(reqs[:1])
    assert ceilings.replay(reqs) == total + listing  # every body byte, read and dropped
    assert ceilings.replay(reqs, processes=3) == total + listing  # dealt, each once
    assert ceilings.replay(reqs, threads=4) == total + listing


def test_getbatch_and_ranged_requests_are_named(ais_server, corpus):
    bucket, blobs = corpus
    from ais_datasets import AISIterDataset

    reqs = ceilings.capture(lambda: AISIterDataset(bucket))
    assert "GetBatch" in ceilings.pattern(reqs)
    assert ceilings.replay(reqs) >= sum(len(b) for b in blobs.values())  # tar framing on top
    ranged = ceilings.ranged_requests(f"{ais_server.url}/v1/objects/c/o/011.bin?provider=ais",
                                      1011, 300, threads=2)
    assert ceilings.pattern(ranged) == "4 ranged GET + 1 HEAD"
    assert ceilings.replay(ranged, threads=2) == 1011


def test_capture_stops_at_the_cap(corpus):
    bucket, _ = corpus
    names = [e.name for e in bucket.list_all_objects()]
    gen = ((n, bucket.object(n).get_reader().read_all()) for n in names)
    reqs = ceilings.capture(lambda: gen, cap=5)
    assert ceilings.pattern(reqs) == "5 GET"


def test_replay_follows_redirects_and_capture_leaves_the_hops_to_it(ais_server, corpus):
    bucket, blobs = corpus
    target = ais_server.url

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            self.send_response(307)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        front = Client(f"http://127.0.0.1:{proxy.server_port}").bucket("c")
        name = sorted(blobs)[0]
        reqs = ceilings.capture(lambda: [front.object(name).get_reader().read_all()])
        assert len(reqs) == 1 and f":{proxy.server_port}/" in reqs[0].url  # not the hop
        assert ceilings.replay(reqs) == len(blobs[name])
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


def test_replay_fails_loudly_on_an_error_status(ais_server):
    req = ceilings.Req("GET", f"{ais_server.url}/v1/objects/nob/x?provider=ais", (), b"", 0)
    with pytest.raises(RuntimeError, match="answered 404"):
        ceilings.replay([req])
    with pytest.raises(RuntimeError, match="answered 404"):
        ceilings.replay([req, req], processes=2)


def test_webdataset_requests_are_one_get_per_shard(ais_server):
    bucket = Client(ais_server.url).bucket("w").create()
    put_shards(bucket, make_shards(make_samples(4), 2))
    reqs = ceilings.object_gets(list(bucket.list_urls()))
    assert ceilings.pattern(reqs) == "2 GET"
    assert ceilings.replay(reqs) == sum(
        len(bucket.object(e.name).get_reader().read_all()) for e in bucket.list_all_objects())


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", ["object", "sample", "pair"])
def test_dataloader_ceiling_generates_each_sample_once_in_its_worker(kind, workers):
    shape = ceilings.Shape(kind, 10, 64)
    got = list(DataLoader(ceilings.GeneratedDataset(shape), batch_size=None,
                          num_workers=workers))
    assert len(got) == 10
    if kind == "object":
        keys = [name for name, _ in got]
        assert all(len(data) == 64 for _, data in got)
    elif kind == "sample":
        keys = [key for key, _ in got]
        assert all(len(f["bin"]) == 64 and len(f["cls"]) == 3 for _, f in got)
    else:
        keys = list(range(10))
        assert all(len(data) == 64 and len(label) == 3 for data, label in got)
    assert len(set(keys)) == 10
