"""Hostile input: nothing a client sends is smuggled into a reply, blows a limit into a
5xx, or pins the server; answers match real AIS (CR/LF in echoed values become spaces,
custom metadata is capped at 2 KiB, out-of-range numbers are malformed ranges)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(120)  # a regression here hangs rather than fails


def _no_injected(headers) -> None:
    names = {k.lower() for k in headers}
    assert not names & {"x-injected", "x-evil"}, dict(headers)
    for value in headers.values():
        assert "\r" not in value and "\n" not in value and "\0" not in value


def test_object_name_cannot_split_a_reply(bck, wire):
    """Defect 1: an object named ``x\\r\\nX-Injected: 1`` must not add a header."""
    name = "x\r\nX-Injected: 1"
    path = wire.obj_path(bck.name, name)
    assert wire.put(path, params={"provider": "ais"}, data=b"hello").status_code == 200
    r = wire.head(path, params={"provider": "ais"})
    assert r.status_code == 200
    _no_injected(r.headers)
    assert r.headers["Ais-Name"] == "x  X-Injected: 1"  # as Go writes a CR/LF: a space
    r = wire.get(path, params={"provider": "ais"})
    assert r.status_code == 200 and r.content == b"hello"
    _no_injected(r.headers)


def test_custom_metadata_cannot_smuggle_a_header_or_a_body(bck, wire):
    """Defect 1: CR/LF in custom metadata (PATCH) reach no header line and no body."""
    path = wire.obj_path(bck.name, "o")
    assert wire.put(path, params={"provider": "ais"}, data=b"hello").status_code == 200
    md = {"k": "v\r\nX-Evil: 1\r\n\r\nSMUGGLED"}
    r = wire.patch(path, params={"provider": "ais"}, json=wire.act("", md))
    assert r.status_code in (200, 400), r.text
    for _ in range(3):  # the same connection keeps working (no stray body bytes)
        r = wire.get(path, params={"provider": "ais"}, timeout=10)
        assert r.status_code == 200 and r.content == b"hello"
        _no_injected(r.headers)
        assert "SMUGGLED" not in r.text
    assert bck.object("o").get_reader().read_all() == b"hello"


def test_bucket_name_with_a_trailing_newline_is_refused(ais_backend, wire):
    """Defect 2: ``abc\\n`` is not a valid bucket name (the rule is anchored at the end)."""
    r = wire.post("/v1/buckets/abc%0A", params={"provider": "ais"}, json=wire.act("create-bck"))
    assert r.status_code == 400, r.text
    assert "bucket name is invalid" in r.json()["message"]
    names = {b.name for b in ais_backend.client.cluster().list_buckets()}
    assert "abc\n" not in names


DEEP = b"[" * 100_000


@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/buckets/{b}"), ("GET", "/v1/buckets/{b}"), ("PATCH", "/v1/objects/{b}/z"),
    ("PUT", "/v1/cluster"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("/") else None)
def test_deeply_nested_json_is_a_400(bck, wire, put, method, path):
    """Defect 3: 100,000 ``[`` answer 400, not a 500 the SDK retries for 90 s."""
    put({"z": b"zz"})
    r = wire.request(method, path.format(b=bck.name), params={"provider": "ais"}, data=DEEP,
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert wire.get("/v1/health").status_code == 200
    assert bck.object("z").get_reader().read_all() == b"zz"


@pytest.mark.parametrize("header", ["bytes=0-" + "9" * 5000, "bytes=" + "9" * 5000 + "-",
                                    "bytes=-" + "9" * 5000, "bytes=0-99999999999999999999"])
def test_range_numbers_beyond_int64_are_a_416(bck, wire, put, header):
    """Defect 4: a Range number of 5,000 digits (or past int64) is a malformed range."""
    put({"z": b"zz"})
    r = wire.get(wire.obj_path(bck.name, "z"), params={"provider": "ais"},
                 headers={"Range": header})
    assert r.status_code == 416, (r.status_code, r.text[:200])


def test_custom_metadata_is_capped_at_2kib(bck, wire, put):
    """Defect 5: 70 KB of metadata is refused (AIS's 2 KiB cap), so no reply ever carries
    a header line a client cannot read; the object stays readable through the SDK."""
    put({"z": b"zz"})
    path = wire.obj_path(bck.name, "z")
    r = wire.patch(path, params={"provider": "ais"}, json=wire.act("", {"big": "x" * 70_000}))
    assert r.status_code == 400
    assert "custom metadata: total size 70003 exceeds max 2048 bytes" in r.json()["message"]
    r = wire.put(wire.obj_path(bck.name, "m"), params={"provider": "ais"}, data=b"m",
                 headers={"Ais-Custom-Md": "k=" + "v" * 3000})
    assert r.status_code == 400
    assert "exceeds max 2048 bytes" in r.json()["message"]
    assert wire.patch(path, params={"provider": "ais"},
                      json=wire.act("", {"ok": "y" * 2000})).status_code == 200
    obj = bck.object("z")
    assert obj.get_reader().read_all() == b"zz"
    assert obj.props.custom_metadata == {"ok": "y" * 2000}


def test_catastrophic_archregx_answers_at_once(bck, wire, put, shards):
    """Defect 6: ``^(a+)+$`` against ``a...a!`` (exponential for a backtracking engine) is
    matched in linear time, as Go's RE2 does: no member matches."""
    put({"s.tar": shards.tar([("a" * 60 + "!", b"1"), ("b.txt", b"2")])})
    r = wire.get(wire.obj_path(bck.name, "s.tar"),
                 params={"provider": "ais", "archregx": "^(a+)+$", "archmode": "regexp"})
    assert r.status_code == 404, r.text
    assert wire.get("/v1/health").status_code == 200
    r = wire.get(wire.obj_path(bck.name, "s.tar"),
                 params={"provider": "ais", "archregx": "(a)\\1", "archmode": "regexp"})
    assert r.status_code == 400  # a backreference is not RE2 syntax


def test_unknown_json_constants_are_refused(bck, wire):
    r = wire.post(wire.bck_path(bck.name), params={"provider": "ais"},
                  data=json.dumps({"action": "list", "value": {"pagesize": 1}}).replace(
                      "1", "NaN").encode())
    assert 400 <= r.status_code < 500
