"""Limits below the transports: object size, running jobs, lazy templates, JSON depth,
reply-header hygiene, archregx engines, custom metadata and the browser guard."""

from __future__ import annotations

import json
import threading

import pytest

from ais_emulator import Emulator
from ais_emulator.api import Request, dispatch
from ais_emulator.api.errors import ApiError
from ais_emulator.api.guard import Guard
from ais_emulator.api.headers import clean_headers
from ais_emulator.api.wire import json_depth, parse_json
from ais_emulator.jobs import TooManyJobs
from ais_emulator.limits import MAX_HEADER_VALUE, parse_size
from ais_emulator.store import ObjectTooLarge
from ais_emulator.store.regex import compile_archregx
from ais_emulator.store.templates import TemplateNames, parse_template, selection


def call(emu, method, path, query="", headers=None, body=b""):
    return dispatch(emu, Request(method, path, query, headers or {}, body,
                                 base_url="http://127.0.0.1:1"))


@pytest.fixture
def emu():
    e = Emulator(max_object_size=1000)
    e.create_bucket("b")
    return e


# -- max object size (defect 8: bounded memory) ------------------------------------------


def test_put_over_the_max_object_size_is_a_413(emu):
    r = call(emu, "PUT", "/v1/objects/b/big", body=b"x" * 1001)
    assert r.status == 413
    assert "max object size 1000" in json.loads(r.body)["message"]
    assert call(emu, "PUT", "/v1/objects/b/ok", body=b"x" * 1000).status == 200


def test_streamed_data_stops_at_the_limit_and_a_declared_length_is_refused_unread(emu):
    class Stream:
        length = None
        seen = 0

        def __iter__(self):
            while True:
                self.seen += 100
                yield b"x" * 100

    s = Stream()
    with pytest.raises(ObjectTooLarge):
        emu.store.put_object(emu.bucket_id("b"), "s", s)
    assert s.seen <= 1100  # stopped right after the limit, not at the end of the stream

    class Declared:
        length = 10**12

        def __iter__(self):
            raise AssertionError("a body declared too large must not be read")

    with pytest.raises(ObjectTooLarge):
        emu.store.put_object(emu.bucket_id("b"), "d", Declared())


def test_append_and_multipart_are_held_to_the_limit(emu):
    bck = emu.bucket_id("b")
    handle = emu.store.append(bck, "a", "", b"x" * 600)
    with pytest.raises(ObjectTooLarge):
        emu.store.append(bck, "a", handle, b"x" * 600)
    upload = emu.store.mpt_create(bck, "m")
    emu.store.mpt_put_part(bck, "m", upload, 1, b"x" * 600)
    emu.store.mpt_put_part(bck, "m", upload, 2, b"x" * 600)
    with pytest.raises(ObjectTooLarge):
        emu.store.mpt_complete(bck, "m", upload, [1, 2])


def test_object_data_from_chunks_is_one_bytes_object():
    emu = Emulator()
    emu.create_bucket("b")
    rec = emu.store.put_object(emu.bucket_id("b"), "c", iter([b"ab", bytearray(b"cd"),
                                                              memoryview(b"ef")]))
    assert rec.data == b"abcdef" and isinstance(rec.data, bytes)


@pytest.mark.parametrize("text,value", [("1000", 1000), ("5GiB", 5 << 30), ("512m", 512 << 20),
                                        ("2 KiB", 2048)])
def test_parse_size(text, value):
    assert parse_size(text) == value


# -- running jobs (defect 7) ---------------------------------------------------------------


def test_running_jobs_are_capped_with_a_429():
    emu = Emulator(max_running_jobs=2)
    release = threading.Event()
    jobs = [emu.jobs.start("copy-bck", lambda ctx: release.wait(10)) for _ in range(2)]
    with pytest.raises(TooManyJobs):
        emu.jobs.start("copy-bck", lambda ctx: None)
    emu.create_bucket("b")
    emu.put_object("b", "o", b"1")
    r = call(emu, "DELETE", "/v1/buckets/b", body=json.dumps(
        {"action": "delete-listrange", "value": {"objnames": ["o"]}}).encode())
    assert r.status == 429 and r.headers.get("Retry-After")
    release.set()
    assert all(j.wait(10) for j in jobs)
    emu.jobs.start("copy-bck", lambda ctx: None).wait(10)  # slots are given back
    assert emu.jobs.running == 0


# -- range templates (defect 7) --------------------------------------------------------------


def test_a_huge_template_is_lazy():
    names = TemplateNames(parse_template("x-{0000000..9999999}"))
    assert len(names) == 10_000_000
    it = iter(names)
    assert [next(it) for _ in range(3)] == ["x-0000000", "x-0000001", "x-0000002"]


def test_a_template_larger_than_a_local_bucket_walks_the_bucket(emu):
    for name in ("x-0000005", "x-9999999", "x-123", "y"):
        emu.put_object("b", name, b"1")
    sel = selection(emu.store, emu.bucket_id("b"), {"template": "x-{0000000..9999999}"})
    assert sel.names == ["x-0000005", "x-9999999"] and sel.ranged


def test_huge_template_delete_touches_only_matching_objects(emu):
    for name in ("x-0000005", "x-9999999", "y"):
        emu.put_object("b", name, b"1")
    r = call(emu, "DELETE", "/v1/buckets/b", body=json.dumps(
        {"action": "delete-listrange", "value": {"template": "x-{0000000..9999999}"}}).encode())
    assert r.status == 200
    job = emu.jobs.get(r.body.decode().strip().strip('"'))
    assert job.wait(30) and not job.err
    assert emu.store.object_names(emu.bucket_id("b")) == ["y"]


@pytest.mark.parametrize("template", ["x-{0..99999999999}", "{0..9}" * 65,
                                      "x-{0.." + "9" * 30 + "}"])
def test_oversized_templates_are_a_400(emu, template):
    r = call(emu, "DELETE", "/v1/buckets/b", body=json.dumps(
        {"action": "delete-listrange", "value": {"template": template}}).encode())
    assert r.status == 400, r.body


# -- JSON (defect 3) -----------------------------------------------------------------------


def test_json_depth_is_linear_and_skips_strings():
    assert json_depth(b"[" * 100_000) == 100_000
    assert json_depth(b'["' + b"[" * 1000 + b'"]') == 1
    assert json_depth(b'{"a":' * 600 + b"1" + b"}" * 600) == 600
    assert json_depth(b'["\\"' + b"[" * 600 + b'"]') == 1


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 10_000, b"[NaN]",
                                  b"[" + b"1" * 5000 + b"]"])
def test_parse_json_refuses_with_a_400(body):
    with pytest.raises(ApiError) as e:
        parse_json(body)
    assert e.value.status == 400


# -- reply headers (defects 1, 5) ----------------------------------------------------------


def test_clean_headers_encodes_controls_and_drops_bad_names(caplog):
    out = clean_headers({"Ais-Name": "x\r\nX-Injected: 1", "Bad Name": "v",
                         "Ais-Custom-Md": "k=\x00v\x7f", "Long": "y" * (MAX_HEADER_VALUE + 9)})
    assert out["Ais-Name"] == "x  X-Injected: 1"
    assert "Bad Name" not in out
    assert out["Ais-Custom-Md"] == "k= v"
    assert len(out["Long"]) == MAX_HEADER_VALUE


def test_an_etl_mime_type_cannot_split_a_reply(emu):
    emu.put_object("b", "o", b"x")
    r = call(emu, "HEAD", "/v1/objects/b/o%0D%0AX-Injected:%201")
    assert r.status == 404 and "\n" not in r.headers["Hdr-Error"]


def test_hdr_error_of_a_long_name_stays_short(emu):
    r = call(emu, "HEAD", "/v1/objects/b/" + "n" * 15000)
    assert r.status == 404 and len(r.headers["Hdr-Error"]) < 8000


def test_custom_metadata_reserved_symbol_and_merge_limit(emu):
    emu.put_object("b", "o", b"x")
    act = {"action": "", "value": {"k": "a\x01b"}}
    assert call(emu, "PATCH", "/v1/objects/b/o", body=json.dumps(act).encode()).status == 400
    act = {"action": "", "value": {"a": "x" * 1500}}
    assert call(emu, "PATCH", "/v1/objects/b/o", body=json.dumps(act).encode()).status == 200
    act = {"action": "", "value": {"b": "x" * 1500}}
    r = call(emu, "PATCH", "/v1/objects/b/o", body=json.dumps(act).encode())
    assert r.status == 400 and b"exceeds max 2048" in r.body


def test_object_names_are_bounded(emu):
    r = call(emu, "PUT", "/v1/objects/b/" + "n" * 17000, body=b"x")
    assert r.status == 400 and b"longer than" in r.body


# -- archregx (defect 6) ---------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["re2", "guarded"])
def test_archregx_engines_agree_on_ordinary_patterns(engine):
    match = compile_archregx(r"^img/.*\.(jpg|png)$", engine)
    assert match("img/a.jpg") and not match("img/a.txt") and not match("x/img/a.jpg")
    assert compile_archregx("0001", engine)("a/0001.cls")


@pytest.mark.parametrize("pattern", [r"^(a+)+$", r"(a|ab)*c", r"(.*a){20}", r".*a.*b.*c",
                                     r"(a)\1", r"(?=a)", r"a++"])
def test_guarded_engine_refuses_backtracking_patterns(pattern):
    with pytest.raises(ValueError):
        compile_archregx(pattern, "guarded")


def test_re2_matches_catastrophic_patterns_in_linear_time():
    assert not compile_archregx(r"^(a+)+$", "re2")("a" * 10_000 + "!")


# -- the guard (defect 9) ------------------------------------------------------------------


def _req(path="/v1/__emulator__/reset", **headers):
    return Request("POST", path, "", headers)


@pytest.mark.parametrize("headers", [
    {"host": "127.0.0.1:5", "origin": "http://evil.example"},
    {"host": "127.0.0.1:5", "origin": "null"},
    {"host": "evil.example:5"},                       # DNS rebinding
    {"host": ""},
    {"host": "127.0.0.1:5", "sec-fetch-site": "cross-site"},
    {"host": "127.0.0.1:5", "origin": "http://127.0.0.1:6"},
])
def test_guard_refuses_browser_requests(headers):
    with pytest.raises(ApiError) as e:
        Guard.for_bind("127.0.0.1", 5).check(_req(**headers))
    assert e.value.status == 403


@pytest.mark.parametrize("headers", [
    {"host": "127.0.0.1:5"}, {"host": "localhost:5"}, {"host": "[::1]:5"},
    {"host": "localhost:5", "origin": "http://localhost:5"},
])
def test_guard_accepts_the_bound_address(headers):
    Guard.for_bind("127.0.0.1", 5).check(_req(**headers))


def test_guard_options_and_data_routes():
    g = Guard.for_bind("0.0.0.0", 5)
    g.check(_req(host="10.1.2.3:5"))  # a wildcard bind: any IP literal is this server
    with pytest.raises(ApiError):
        g.check(_req(host="rebind.example:5"))
    g.check(_req("/v1/health", host="rebind.example:5"))  # only control routes check Host
    with pytest.raises(ApiError):
        g.check(_req("/v1/buckets/b", host="127.0.0.1:5", origin="http://evil.example"))
    Guard.for_bind("127.0.0.1", 5, allowed_hosts=["emu.internal"]).check(
        _req(host="emu.internal:5"))
    Guard.for_bind("127.0.0.1", 5, allowed_origins=["http://ui.local:3000"]).check(
        _req(host="127.0.0.1:5", origin="http://ui.local:3000"))
    Guard.for_bind("127.0.0.1", 5, allowed_hosts=["*"]).check(_req(host="any.example"))
