"""Helpers for the conformance suite: raw wire access and deterministic shard builders.

Loaded by ``conftest.py`` under a private module name and handed to tests through the
``wire`` and ``shards`` fixtures, so nothing here depends on how pytest sets up
``sys.path``.

    def test_x(wire, shards, bck):
        bck.object("s.tar").get_writer().put_content(shards.tar([("a.txt", b"A")]))
        r = wire.get(wire.obj_path(bck.name, "s.tar"), params={"archpath": "a.txt"})
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from urllib.parse import quote

import msgpack
import requests

from ais_emulator.shards import make_tar

_ZIP_DATE = (2023, 11, 14, 22, 13, 20)

# ListObjectFlag masks (1 << bit) and entry flags, as the AIS wire uses them.
LS_CACHED = 1 << 0
LS_ARCH_DIR = 1 << 3
LS_NAME_ONLY = 1 << 4
LS_NAME_SIZE = 1 << 5
LS_NO_RECURSION = 1 << 11
LS_NO_DIRS = 1 << 13

ENTRY_IS_CACHED = 64
ENTRY_IN_ARCH = 128
ENTRY_IS_DIR = 256
ENTRY_IS_ARCHIVE = 512


def unique_name(prefix: str = "cf") -> str:
    """A bucket name no other test (or person) on a shared cluster will pick."""
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def payload(seed: str, size: int) -> bytes:
    """Deterministic pseudo-random bytes of exactly ``size`` length."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


# ---------------------------------------------------------------------------------------
# shards


class Shards:
    """Builders and readers for tar / tgz / zip archives, all in memory."""

    @staticmethod
    def tar(members: Sequence[tuple[str, bytes]], dirs: Iterable[str] = ()) -> bytes:
        return make_tar(members, dirs=dirs)

    @staticmethod
    def tgz(members: Sequence[tuple[str, bytes]]) -> bytes:
        return make_tar(members, compression="gz")

    @staticmethod
    def zip(members: Sequence[tuple[str, bytes]]) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, mode="w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        return buf.getvalue()

    @staticmethod
    def read_tar(data: bytes) -> list[tuple[str, bytes]]:
        """Regular-file members of a (possibly compressed) tar, in stream order."""
        out = []
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
            for member in tf:
                if member.isfile():
                    f = tf.extractfile(member)
                    out.append((member.name, f.read() if f else b""))
        return out


# ---------------------------------------------------------------------------------------
# raw wire


class Wire:
    """Plain ``requests`` against the endpoint: no SDK headers, no retries."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint.rstrip("/")
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return self.endpoint + path

    @staticmethod
    def obj_path(bucket: str, name: str) -> str:
        return f"/v1/objects/{bucket}/{quote(name)}"

    @staticmethod
    def bck_path(bucket: str) -> str:
        return f"/v1/buckets/{bucket}"

    @staticmethod
    def act(action: str, value=None, name: str = "") -> dict:
        return {"action": action, "name": name, "value": value}

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", True)
        return self.session.request(method, self.url(path), **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw) -> requests.Response:
        return self.request("HEAD", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def patch(self, path: str, **kw) -> requests.Response:
        return self.request("PATCH", path, **kw)

    def list_page(self, bucket: str, **value) -> tuple[requests.Response, dict]:
        """One list-objects page as raw msgpack; ``value`` fills the LsoMsg."""
        msg = {
            "prefix": "",
            "pagesize": 0,
            "uuid": "",
            "props": "",
            "continuation_token": "",
            "flags": "0",
            "target": "",
        }
        msg.update(value)
        if not isinstance(msg["flags"], str):
            msg["flags"] = str(msg["flags"])
        r = self.get(
            self.bck_path(bucket),
            params={"provider": "ais"},
            headers={"Accept": "application/msgpack"},
            json=self.act("list", msg),
        )
        body = msgpack.unpackb(r.content, raw=False) if r.status_code == 200 else {}
        return r, body

    def list_all_raw(self, bucket: str, **value) -> list[dict]:
        """Every entry of a listing, following tokens, as raw msgpack maps."""
        entries, token, list_id = [], "", ""
        for _ in range(10_000):
            r, body = self.list_page(bucket, continuation_token=token, uuid=list_id, **value)
            assert r.status_code == 200, r.text
            entries.extend(body.get("Entries") or [])
            token, list_id = body["ContinuationToken"], body["UUID"]
            if not token:
                return entries
        raise AssertionError("listing never ended")
