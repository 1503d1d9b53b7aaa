"""Ceilings: what the server and the client machine deliver at all, for the same work.

Two kinds, each named for what it is:

* **Request ceiling** (``× ceiling``): the contender's own requests, captured once from
  a ``num_workers=0`` pass of the same contender (every ``requests`` send, redirect hops
  left to the replay), then replayed with the leanest client there is: ``http.client``
  on kept-alive connections, each body read with ``readinto`` into one reused buffer and
  dropped. Same requests, same order, same bodies (a GetBatch request is the same
  GetBatch request), as many threads as the contender had sending, and as many
  processes as it has DataLoader workers (requests dealt round-robin). A contender that
  reads every byte of its responses cannot beat it by more than noise.
* **DataLoader ceiling** (``× DataLoader ceiling``): the same DataLoader settings over a
  dataset that *generates* samples of the contender's shape (same byte sizes) inside
  each worker: no network, no parsing, no objects inherited through ``fork`` (iterating
  a list inherited from the parent writes every object's reference count, and those
  copy-on-write page faults made an earlier "floor" slower than a real dataset)::

    reqs = capture(lambda: reader.make(), cap=None)     # reader built with num_workers=0
    ceiling = replay_reader(reqs, processes=2, threads=1, like=reader)
    loader_ceiling = generated_reader(Shape.of_manifest(manifest, "shards"), like, 2)
"""

from __future__ import annotations

import http.client
import multiprocessing
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from torch.utils.data import IterableDataset, get_worker_info

BUFFER = 1 << 20  # one reused receive buffer per connection
_REDIRECTS = (301, 302, 303, 307, 308)
_SKIP_HEADERS = {"content-length", "transfer-encoding", "connection", "host"}


@dataclass(frozen=True)
class Req:
    """One captured request: enough to send it again, byte for byte."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    thread: int


def capture(make: Callable[[], Iterable], cap: int | None = None) -> list[Req]:
    """Drain ``make()`` (its first ``cap`` items) in this process and return every request
    it sent through ``requests``, redirect hops excluded (the replay follows them)."""
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.send
    sent: list[Req] = []
    hops: set[str] = set()
    lock = threading.Lock()

    def send(self, request, *args, **kwargs):
        response = original(self, request, *args, **kwargs)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = b""  # a streamed upload: the contenders here never send one
        with lock:
            if request.url not in hops:
                sent.append(Req(request.method, request.url, tuple(request.headers.items()),
                                bytes(body), threading.get_ident()))
            location = response.headers.get("Location") if response.is_redirect else None
            if location:
                hops.add(urljoin(request.url, location))
        return response

    HTTPAdapter.send = send
    try:
        it = iter(make())
        for n, _item in enumerate(it, 1):
            if cap is not None and n >= cap:
                break
        del it
    finally:
        HTTPAdapter.send = original
    return sent


def pattern(reqs: list[Req]) -> str:
    """What the requests are, e.g. ``"157 GetBatch + 1 list"``; ranged GETs, per-member
    GETs (``archpath``) and HEADs are named as such."""
    kinds: dict[str, int] = {}
    for r in reqs:
        parts = urlsplit(r.url)
        headers = {k.lower() for k, _ in r.headers}
        if parts.path.rstrip("/").endswith("/ml/moss"):
            kind = "GetBatch"
        elif r.method == "HEAD":
            kind = "HEAD"
        elif "/v1/buckets" in parts.path:
            kind = "list"
        elif "archpath=" in parts.query:
            kind = "per-member GET"
        elif "range" in headers:
            kind = "ranged GET"
        else:
            kind = "GET"
        kinds[kind] = kinds.get(kind, 0) + 1
    order = ["GetBatch", "GET", "ranged GET", "per-member GET", "HEAD", "list"]
    return " + ".join(f"{kinds[k]} {k}" for k in order if k in kinds) or "no requests"


def threads_of(reqs: list[Req]) -> int:
    """How many threads of the contender sent requests (the replay's concurrency)."""
    return max(1, min(16, len({r.thread for r in reqs})))


def ranged_requests(url: str, size: int, chunk: int, threads: int = 0) -> list[Req]:
    """A HEAD, then ``bytes=a-b`` GETs of ``chunk`` bytes: the pattern of a parallel range
    reader whose requests cannot be captured here (they are sent from other processes)."""
    reqs = [Req("HEAD", url, (), b"", 0)]
    for i, start in enumerate(range(0, size, chunk)):
        end = min(start + chunk, size) - 1
        reqs.append(Req("GET", url, (("Range", f"bytes={start}-{end}"),), b"", 1 + i % max(1, threads)))
    return reqs


def object_gets(urls: list[str]) -> list[Req]:
    """One plain GET per URL (webdataset's pattern: its HTTP opener is a curl process)."""
    return [Req("GET", u, (), b"", 0) for u in urls]


# --------------------------------------------------------------------------- replay


class _Client:
    """Kept-alive ``http.client`` connections (one per server) and one receive buffer."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, str], http.client.HTTPConnection] = {}
        self._view = memoryview(bytearray(BUFFER))

    def _conn(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        conn = self._conns.get((scheme, netloc))
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = self._conns[(scheme, netloc)] = cls(netloc, timeout=300)
        return conn

    def fetch(self, req: Req) -> int:
        """Send ``req`` (following redirects); the number of body bytes read and dropped."""
        method, url, body = req.method, req.url, req.body
        headers = {k: v for k, v in req.headers if k.lower() not in _SKIP_HEADERS}
        for _ in range(5):
            parts = urlsplit(url)
            conn = self._conn(parts.scheme, parts.netloc)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            try:
                conn.request(method, target, body=body or None, headers=headers)
                resp = conn.getresponse()
            except (http.client.HTTPException, OSError):  # a kept-alive connection closed
                conn.close()
                conn.request(method, target, body=body or None, headers=headers)
                resp = conn.getresponse()
            got = 0
            view = self._view
            while True:
                n = resp.readinto(view)
                if not n:
                    break
                got += n
            if resp.status in _REDIRECTS and resp.getheader("Location"):
                url = urljoin(url, resp.getheader("Location"))
                continue
            if resp.status >= 400:
                raise RuntimeError(f"ceiling: {method} {url} answered {resp.status}")
            return got
        raise RuntimeError(f"ceiling: {method} {req.url}: too many redirects")

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()


def _replay(reqs: list[Req], threads: int) -> int:
    """Send ``reqs`` in order from ``threads`` threads (each its own connections)."""
    if threads <= 1:
        client = _Client()
        try:
            return sum(client.fetch(r) for r in reqs)
        finally:
            client.close()
    local = threading.local()
    clients: list[_Client] = []

    def fetch(r: Req) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = _Client()
            clients.append(client)
        return client.fetch(r)

    try:
        with ThreadPoolExecutor(threads) as pool:
            return sum(pool.map(fetch, reqs))
    finally:
        for c in clients:
            c.close()


def _replay_in_child(reqs: list[Req], threads: int, out) -> None:
    try:
        out.send(("ok", _replay(reqs, threads)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        out.send(("error", repr(exc)))
    finally:
        out.close()


def replay(reqs: list[Req], processes: int = 1, threads: int = 1) -> int:
    """Send ``reqs`` dealt round-robin over ``processes`` forked processes (this one when
    1), ``threads`` each; the body bytes read in all."""
    if processes <= 1:
        return _replay(reqs, threads)
    ctx = multiprocessing.get_context("fork")
    pipes, procs = [], []
    for i in range(processes):
        parent, child = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_replay_in_child, args=(reqs[i::processes], threads, child),
                        daemon=True)
        p.start()
        child.close()
        pipes.append(parent)
        procs.append(p)
    total, errors = 0, []
    for parent, p in zip(pipes, procs, strict=True):
        try:
            status, value = parent.recv()
        except EOFError:
            status, value = "error", f"replay process {p.pid} died"
        if status == "ok":
            total += value
        else:
            errors.append(value)
        p.join()
    if errors:
        raise RuntimeError(f"ceiling replay failed: {errors[0]}")
    return total


# --------------------------------------------------------------------------- DataLoader ceiling


@dataclass(frozen=True)
class Shape:
    """The shape of a contender's samples: ``kind`` ``"object"`` (name, bytes),
    ``"sample"`` (key, {ext: bytes}) or ``"pair"`` (bytes, bytes); sizes in bytes."""

    kind: str
    n: int
    size: int
    label_size: int = 3


class GeneratedDataset(IterableDataset):
    """``shape.n`` samples made on the spot, each worker making only its own share.

    The payload bytes are made once per worker and handed out again for every sample
    (the ceiling's dataset costs as little as a dataset can); keys are distinct.
    """

    def __init__(self, shape: Shape):
        self.shape = shape

    def __iter__(self):
        info = get_worker_info()
        first, step = (0, 1) if info is None else (info.id, info.num_workers)
        shape = self.shape
        payload, label = bytes(shape.size), b"7" * shape.label_size
        for i in range(first, shape.n, step):
            if shape.kind == "object":
                yield f"small/sample-{i:06d}.bin", payload
            elif shape.kind == "sample":
                yield f"sample-{i:06d}", {"bin": payload, "cls": label}
            else:
                yield payload, label
