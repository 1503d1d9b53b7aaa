"""The lean shard path: read-ahead lanes, resumable object streams, parallel range reads.

Behaviour only (order, exactly-once, bounded memory, errors in place); speed is measured
by the benchmarks, never asserted here.
"""

from __future__ import annotations

import itertools
import pickle
import threading
import time

import ais_ds_test_kit as kit
import pytest

from ais_datasets import (
    AISMultiShardStream,
    AISParallelMapDataset,
    AISShardReader,
    ShardReadError,
    ShardReadWarning,
)
from ais_datasets.readahead import ReadAhead
from ais_datasets.reading import ObjectStream

# --------------------------------------------------------------------------- ReadAhead


class _Stream:
    """A fake object stream: ``chunks()`` and ``close()``, optionally failing mid-way."""

    def __init__(self, pieces, fail_after=None, log=None):
        self.pieces = pieces
        self.fail_after = fail_after
        self.log = log if log is not None else []
        self.closed = False

    def chunks(self):
        for i, piece in enumerate(self.pieces):
            if self.fail_after is not None and i == self.fail_after:
                raise ConnectionError("connection reset")
            self.log.append(piece)
            yield piece

    def close(self):
        self.closed = True


def _pieces(tag: str, n: int, size: int = 10) -> list[bytes]:
    return [(f"{tag}{i}-".encode() * size)[:size] for i in range(n)]


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the background thread did not get there"
        time.sleep(0.005)


def test_readahead_delivers_streams_in_order():
    streams = [_Stream(_pieces(t, 5)) for t in "abc"]
    lane = ReadAhead((lambda s=s: s for s in streams), budget=25, ahead=1, piece=10)
    try:
        for stream in streams:
            assert b"".join(lane.next_stream()) == b"".join(stream.pieces)
    finally:
        lane.close()
    assert all(s.closed for s in streams)


def test_readahead_holds_at_most_its_budget():
    log: list[bytes] = []
    streams = [_Stream(_pieces(t, 50), log=log) for t in "ab"]
    lane = ReadAhead((lambda s=s: s for s in streams), budget=30, ahead=1, piece=10)
    try:
        feed = lane.next_stream()
        taken = 0
        for _ in range(10):
            next(feed)
            taken += 1
            time.sleep(0.01)  # let the background thread fill what it may
            assert len(log) - taken <= 3, "more than the budget was read ahead"
    finally:
        lane.close()


def test_readahead_opens_at_most_ahead_streams_beyond_the_reader():
    opened: list[int] = []

    def opener(i):
        def open_():
            opened.append(i)
            return _Stream(_pieces(str(i), 1))
        return open_

    lane = ReadAhead((opener(i) for i in range(6)), budget=1 << 20, ahead=1, piece=10)
    try:
        list(lane.next_stream())
        _wait_for(lambda: len(opened) >= 2)
        time.sleep(0.05)  # room to go too far, if it would
        assert opened == [0, 1]
        list(lane.next_stream())
        _wait_for(lambda: len(opened) >= 3)
        time.sleep(0.05)
        assert opened == [0, 1, 2]
    finally:
        lane.close()


def test_readahead_raises_a_streams_error_at_its_place_only():
    good, bad, after = _Stream(_pieces("g", 3)), _Stream(_pieces("b", 4), fail_after=2), \
        _Stream(_pieces("z", 2))
    lane = ReadAhead((lambda s=s: s for s in (good, bad, after)), budget=1 << 20, ahead=2,
                     piece=10)
    try:
        assert list(lane.next_stream()) == good.pieces  # not disturbed by the later error
        feed = lane.next_stream()
        assert [next(feed), next(feed)] == bad.pieces[:2]
        with pytest.raises(ConnectionError):
            next(feed)
        assert list(lane.next_stream()) == after.pieces
    finally:
        lane.close()


def test_readahead_drops_a_stream_the_reader_leaves():
    first, second = _Stream(_pieces("a", 100)), _Stream(_pieces("b", 3))
    lane = ReadAhead((lambda s=s: s for s in (first, second)), budget=50, ahead=1, piece=10)
    try:
        feed = lane.next_stream()
        next(feed)
        feed.close()  # e.g. the shard failed to parse: skip its rest
        assert list(lane.next_stream()) == second.pieces
        _wait_for(lambda: first.closed)
        assert len(first.log) < 100
    finally:
        lane.close()


def test_readahead_thread_ends_when_closed():
    lane = ReadAhead((lambda: _Stream(_pieces("x", 1000)) for _ in range(3)), budget=20,
                     ahead=1, piece=10)
    next(lane.next_stream())
    lane.close()
    lane._thread.join(5)  # noqa: SLF001 - the background thread
    assert not lane._thread.is_alive()  # noqa: SLF001


# --------------------------------------------------------------------------- shard readers


def _reader(bucket, **kw):
    return AISShardReader(bucket, prefix_map={bucket: "shards/"}, **kw)


READAHEAD = [{"readahead_bytes": 0}, {"readahead_bytes": 3000, "prefetch_shards": 1},
             {"readahead_bytes": 1 << 20, "prefetch_shards": 3}]


@pytest.mark.parametrize("opts", READAHEAD)
@pytest.mark.parametrize("shuffle", [False, True])
def test_shard_reader_with_readahead_resumes_exactly(bucket, opts, shuffle):
    _, expected = kit.shard_corpus(bucket, shards=4, per_shard=3)
    full = kit.plain(_reader(bucket, shuffle=shuffle, shuffle_buffer=5, **opts))
    assert sorted(full) == sorted(expected)
    if not shuffle:
        assert full == expected
    for stop in (0, 1, 4, 7, 12):
        ds = _reader(bucket, shuffle=shuffle, shuffle_buffer=5, **opts)
        it = iter(ds)
        head = [next(it) for _ in range(stop)]
        state = pickle.loads(pickle.dumps(ds.state_dict()))
        it.close()
        again = _reader(bucket, shuffle=shuffle, shuffle_buffer=5, **opts)
        again.load_state_dict(state)
        assert kit.plain(head) + kit.plain(again) == full, f"stop={stop}"


@pytest.mark.parametrize("opts", READAHEAD[1:])
def test_shard_reader_with_readahead_splits_ranks_exactly_once(bucket, opts):
    _, expected = kit.shard_corpus(bucket, shards=5, per_shard=2)
    parts = [kit.keys(_reader(bucket, rank=r, world_size=2, even_ranks=None, **opts))
             for r in range(2)]
    assert sorted(itertools.chain(*parts)) == sorted(kit.keys(expected))


@pytest.mark.parametrize("policy", ["raise", "skip"])
def test_shard_reader_with_readahead_keeps_the_error_policy(bucket, policy):
    names, expected = kit.shard_corpus(bucket, shards=3, per_shard=4)
    data = bytearray(kit.make_tar(kit.shard_members(1, 4)))
    data[2 * 1024 + 10] ^= 0xFF  # corrupt the second member's header
    kit.put(bucket, {names[1]: bytes(data)})
    ds = _reader(bucket, on_error=policy, readahead_bytes=4096, prefetch_shards=2)
    if policy == "raise":
        with pytest.raises(ShardReadError) as exc:
            list(ds)
        assert exc.value.shard == f"ais://ds/{names[1]}" and exc.value.offset == 2048
    else:
        assert kit.plain(ds) == expected[:4] + expected[8:]
        assert ds.error_stats["shards_failed"] == 1


def test_shard_reader_with_readahead_missing_shard_keeps_its_sdk_error(bucket):
    from aistore.sdk.errors import ErrObjNotFound

    kit.shard_corpus(bucket, shards=2, per_shard=2)
    group = bucket.objects(obj_names=["shards/shard-00.tar", "shards/gone.tar",
                                      "shards/shard-01.tar"])
    got = []
    with pytest.raises(ErrObjNotFound):
        for sample in AISShardReader(group, readahead_bytes=1 << 16):
            got.append(sample)
    assert len(got) == 2  # everything before the missing shard, nothing after
    with pytest.warns(ShardReadWarning, match="gone.tar"):
        assert len(list(AISShardReader(group, readahead_bytes=1 << 16,
                                       on_error="warn"))) == 4


def test_shard_reader_with_readahead_stops_its_thread(bucket):
    kit.shard_corpus(bucket, shards=4, per_shard=3)
    before = {t.ident for t in threading.enumerate()}
    it = iter(_reader(bucket, readahead_bytes=1 << 16))
    next(it)
    it.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()
                 and t.name.startswith("ais-datasets-readahead")]
        if not extra:
            break
        time.sleep(0.02)
    assert not extra


def test_readahead_options_are_validated(bucket):
    with pytest.raises(ValueError):
        _reader(bucket, readahead_bytes=-1)
    with pytest.raises(ValueError):
        _reader(bucket, prefetch_shards=-1)


@pytest.mark.parametrize("opts", READAHEAD)
def test_multishard_with_readahead(endpoint, bucket, opts):
    from aistore.sdk import DataShard

    rows = []
    for s in range(3):
        img = [(f"s{s}-{j}.jpg", kit.payload(f"i{s}{j}", 700)) for j in range(4)]
        lbl = [(f"s{s}-{j}.cls", kit.payload(f"l{s}{j}")) for j in range(4)]
        kit.put(bucket, {f"img/{s}.tar": kit.make_tar(img), f"lbl/{s}.tar": kit.make_tar(lbl)})
        rows += [(a, b) for (_, a), (_, b) in zip(img, lbl, strict=True)]

    def stream():
        return AISMultiShardStream([DataShard(endpoint, bucket.name, prefix="img/"),
                                    DataShard(endpoint, bucket.name, prefix="lbl/")], **opts)

    assert list(stream()) == rows
    ds = stream()
    it = iter(ds)
    head = [next(it) for _ in range(5)]
    it.close()
    again = stream()
    again.load_state_dict(ds.state_dict())
    assert head + list(again) == rows


# --------------------------------------------------------------------------- object streams


def test_object_stream_resumes_a_dropped_connection_with_a_range(bucket, calls, monkeypatch):
    import urllib3.response
    from urllib3.exceptions import ProtocolError

    data = bytes(range(256)) * 4096  # 1 MiB
    kit.put(bucket, {"blob.bin": data})
    real_read = urllib3.response.HTTPResponse.read
    state = {"reads": 0}

    def flaky(self, amt=None, *a, **kw):
        state["reads"] += 1
        if state["reads"] == 3:
            raise ProtocolError("connection broken")
        return real_read(self, amt, *a, **kw)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read", flaky)
    calls.clear()
    stream = ObjectStream(bucket.object("blob.bin"), chunk=100_000)
    assert b"".join(stream.chunks()) == data
    ranges = [h.get("Range") for _, _, h in calls.gets()]
    assert ranges == [None, "bytes=200000-"]


def test_object_stream_gives_up_after_max_resume(bucket, monkeypatch):
    import urllib3.response
    from aistore.sdk.obj.obj_file.errors import ObjectFileReaderMaxResumeError
    from urllib3.exceptions import ProtocolError

    kit.put(bucket, {"blob.bin": b"x" * 1000})

    def broken(self, *a, **kw):
        raise ProtocolError("connection broken")

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read", broken)
    with pytest.raises(ObjectFileReaderMaxResumeError):
        list(ObjectStream(bucket.object("blob.bin"), max_resume=2).chunks())


def test_object_stream_from_an_offset(bucket):
    data = kit.payload("blob", 5000)
    kit.put(bucket, {"blob.bin": data})
    assert b"".join(ObjectStream(bucket.object("blob.bin"), offset=1234,
                                 chunk=700).chunks()) == data[1234:]


class _FlakyObjectServer:
    """A minimal HTTP/1.1 server for one object that drops its first response mid-body.

    Answers ``GET /v1/objects/b/blob.bin`` (keep-alive, ``Content-Length``; ``Range:
    bytes=N-`` gives a 206); the first response stops after ``drop_after`` body bytes and
    closes the connection. Answers HEAD as present. Records every GET's Range header and
    counts connections.
    """

    def __init__(self, data: bytes, drop_after: int | None):
        import socket

        self.data = data
        self.drop_after = drop_after
        self.ranges: list = []
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            with conn, conn.makefile("rb") as rfile:
                while self._answer(conn, rfile):
                    pass
        except OSError:  # the client went away: nothing to answer
            pass

    def _answer(self, conn, rfile) -> bool:
        line = rfile.readline()
        if not line:
            return False
        headers = {}
        while (h := rfile.readline()) not in (b"\r\n", b"\n", b""):
            k, _, v = h.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        if line.startswith(b"HEAD "):  # the SDK's presence check before a resume
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {len(self.data)}\r\n"
                         "ais-present: true\r\n\r\n".encode())
            return True
        rng = headers.get("range")
        self.ranges.append(rng)
        start = int(rng[len("bytes="):-1]) if rng else 0
        body = self.data[start:]
        status = "206 Partial Content" if rng else "200 OK"
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n"
                     f"Content-Type: application/octet-stream\r\n\r\n".encode())
        if self.drop_after is not None and len(self.ranges) == 1:
            conn.sendall(body[:self.drop_after])
            return False  # dropped mid-body
        conn.sendall(body)
        return True

    def close(self):
        self._sock.close()


def _http_object(url: str):
    from aistore.sdk import Client

    return Client(url).bucket("b").object("blob.bin")


def _body(stream: ObjectStream) -> bytes:
    """All of a stream's pieces, each copied when it arrives (a reused buffer's views are
    valid until the next piece)."""
    return b"".join(bytes(piece) for piece in stream.chunks())


@pytest.mark.parametrize("reuse", [False, True])
def test_object_stream_over_http_resumes_a_dropped_connection(reuse):
    data = bytes(range(256)) * 8192  # 2 MiB
    srv = _FlakyObjectServer(data, drop_after=300_000)
    try:
        stream = ObjectStream(_http_object(srv.url), chunk=1 << 20, reuse=reuse)
        assert _body(stream) == data
        assert srv.ranges == [None, "bytes=300000-"]
    finally:
        srv.close()


@pytest.mark.parametrize("reuse", [False, True])
def test_object_stream_over_http_reuses_the_connection_after_a_full_read(reuse):
    data = kit.payload("blob", 3_000_000)
    srv = _FlakyObjectServer(data, drop_after=None)
    try:
        obj = _http_object(srv.url)
        for _ in range(3):
            assert _body(ObjectStream(obj, chunk=1 << 20, reuse=reuse)) == data
        partial = ObjectStream(obj, chunk=1 << 20, reuse=reuse)
        next(partial.chunks())
        partial.close()  # left mid-body: that connection cannot be reused
        assert _body(ObjectStream(obj, reuse=reuse)) == data
        assert srv.ranges == [None] * 5
        assert srv.connections == 2
    finally:
        srv.close()


def test_object_stream_reuse_receives_into_one_buffer_per_thread():
    data = kit.payload("blob", 2_500_000)
    srv = _FlakyObjectServer(data, drop_after=None)
    try:
        obj = _http_object(srv.url)
        buffers, got = set(), []
        for _ in range(2):
            for piece in ObjectStream(obj, chunk=1 << 20, reuse=True).chunks():
                assert type(piece) is memoryview
                buffers.add(id(piece.obj))
                got.append(bytes(piece))
        assert b"".join(got) == data * 2
        assert len(buffers) == 1  # every piece of both bodies landed in the same buffer
        fresh = list(ObjectStream(obj, chunk=1 << 20).chunks())
        assert all(type(piece) is bytes for piece in fresh) and b"".join(fresh) == data
    finally:
        srv.close()


def test_shard_reader_over_http_yields_bytes(server_bucket):
    kit.shard_corpus(server_bucket, shards=2, per_shard=5)
    samples = list(AISShardReader(server_bucket))
    assert len(samples) == 10
    assert all(type(v) is bytes for _, fields in samples for v in fields.values())
    assert kit.plain(samples) == kit.plain(list(AISShardReader(server_bucket)))


# --------------------------------------------------------------------------- parallel map


def test_parallel_map_reads_exact_ranges_with_threads(bucket, calls):
    big = kit.payload("big", 100_000)
    kit.put(bucket, {"p/big.bin": big, "p/empty.bin": b"", "p/small.bin": b"abc"})
    ds = AISParallelMapDataset(bucket, prefix_map={bucket: "p/"}, num_workers=3,
                               chunk_size=30_000)
    calls.clear()
    name, buf = ds[0]
    with buf:
        assert name == "p/big.bin" and len(buf) == len(big)
        assert buf.tobytes() == big and bytes(buf.buf[:10]) == big[:10]
    ranges = sorted(h["Range"] for _, _, h in calls.gets())
    assert ranges == sorted(["bytes=0-29999", "bytes=30000-59999", "bytes=60000-89999",
                             "bytes=90000-99999"])
    with pytest.raises(ValueError):
        buf.buf  # noqa: B018 - closed
    name, buf = ds[1]
    assert name == "p/empty.bin" and len(buf) == 0 and buf.tobytes() == b""
    clone = pickle.loads(pickle.dumps(ds[2][1]))
    assert clone.tobytes() == b"abc"
    with pytest.raises(ValueError):
        AISParallelMapDataset(bucket, num_workers=0)


def test_parallel_map_rejects_a_server_that_ignores_ranges(bucket, monkeypatch):
    from requests.exceptions import ChunkedEncodingError

    kit.put(bucket, {"p/big.bin": b"z" * 50_000})
    ds = AISParallelMapDataset(bucket, prefix_map={bucket: "p/"}, num_workers=2,
                               chunk_size=20_000)
    from aistore.sdk.obj.object import Object

    real = Object.get_reader

    def no_ranges(self, *a, byte_range=None, **kw):
        return real(self, *a, **kw)  # the whole object, whatever range was asked

    monkeypatch.setattr(Object, "get_reader", no_ranges)
    with pytest.raises(ChunkedEncodingError):
        ds[0]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_readahead_in_dataloader_workers(server_bucket, context):
    from torch.utils.data import DataLoader

    _, samples = kit.shard_corpus(server_bucket, shards=5, per_shard=3)
    ds = _reader(server_bucket, shuffle=True, readahead_bytes=1 << 16, prefetch_shards=2)
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=context)
    got = [(k, dict(f)) for k, f in loader]
    assert sorted(kit.plain(got)) == sorted(samples)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_parallel_map_runs_inside_dataloader_workers(server_bucket, context):
    import mmap

    from torch.utils.data import DataLoader

    blobs = {f"p/{i}.bin": kit.payload(f"blob{i}", 70_000 + i) for i in range(3)}
    kit.put(server_bucket, blobs)
    ds = AISParallelMapDataset(server_bucket, prefix_map={server_bucket: "p/"},
                               num_workers=4, chunk_size=16_384)
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context=context)
    got = {}
    for name, buf in loader:
        with buf:
            # the bytes came as a memory file's descriptor, not pickled through the pipe
            assert isinstance(buf._data, mmap.mmap)
            got[name] = buf.tobytes()
    assert got == blobs


def test_parallel_buffer_between_processes_is_a_descriptor():
    import mmap
    import pickle
    from multiprocessing.reduction import ForkingPickler

    from ais_datasets.parallel_map_dataset import ParallelBuffer

    data = bytes(range(256)) * 1000
    sent = ForkingPickler.dumps(ParallelBuffer(bytearray(data)))
    assert len(sent) < 1000  # the descriptor travels, not the bytes
    got = ForkingPickler.loads(sent)
    with got:
        assert isinstance(got._data, mmap.mmap) and got.tobytes() == data
        got.buf[:3] = b"abc"  # writable, as any ParallelBuffer
        assert got.tobytes()[:4] == b"abc" + data[3:4]
    plain = pickle.loads(pickle.dumps(ParallelBuffer(bytearray(data))))  # by value
    assert isinstance(plain._data, bytearray) and plain.tobytes() == data
    empty = ForkingPickler.loads(ForkingPickler.dumps(ParallelBuffer(bytearray())))
    assert len(empty) == 0 and empty.tobytes() == b""
