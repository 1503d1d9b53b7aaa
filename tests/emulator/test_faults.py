"""Fault injection: rules, their counters and seeds, and each fault on both transports."""

from __future__ import annotations

import http.client
import socket
import time

import pytest
import requests
from aistore.sdk import Client
from aistore.sdk.errors import AISError
from aistore.sdk.retry_config import RetryConfig
from tenacity import Retrying, stop_after_attempt
from urllib3.exceptions import ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from ais_emulator import Emulator, EmulatorServer, mock_ais
from ais_emulator.api import Request, dispatch
from ais_emulator.faults import FaultSet, FaultSpecError, Rule, parse_spec
from ais_emulator.store import ObjectNotFound

DATA = bytes(range(256)) * 1024  # 256 KiB


def no_retries() -> RetryConfig:
    """A client that reports every failure as it happens (no SDK retries)."""
    return RetryConfig(http_retry=Retry(total=0, read=False, status=None,
                                        raise_on_status=False),
                       network_retry=Retrying(stop=stop_after_attempt(1), reraise=True))


@pytest.fixture(params=["inprocess", "server"])
def transport(request):
    """(emulator, client) over one transport, with bucket ``b`` holding ``o``."""
    emu = Emulator()
    emu.create_bucket("b")
    emu.put_object("b", "o", DATA)
    if request.param == "inprocess":
        with mock_ais(emulator=emu) as m:
            yield emu, Client(m.endpoint, retry_config=no_retries(), timeout=(2, 0.5))
    else:
        with EmulatorServer(emulator=emu) as srv:
            yield emu, Client(srv.url, retry_config=no_retries(), timeout=(2, 0.5))


def get(client, name="o", **kw):
    return client.bucket("b").object(name).get_reader(**kw).raw()


# -- rules -----------------------------------------------------------------------------


def test_spec_parsing_and_errors():
    assert parse_spec("503 p=0.05 op=get") == {"kind": "503", "probability": 0.05, "op": "get"}
    assert parse_spec("reset,after=10,bucket=tr*") == {"kind": "reset", "after": 10,
                                                       "bucket": "tr*"}
    rule = Rule(**parse_spec("429 retry_after=none"))
    assert (rule.kind, rule.status, rule.retry_after) == ("status", 429, -1)
    assert Rule("503").retry_after == 1 and Rule("500").retry_after is None
    for bad, words in [("bogus", "unknown fault kind 'bogus'"),
                       ("404", "status must be one of"),
                       ("reset p=2", "probability must be within"),
                       ("reset every=0", "every must be at least 1"),
                       ("reset after=x", "after='x' is not a number"),
                       ("reset colour=red", "cannot use 'colour=red'"),
                       ("slow", "needs rate="), ("latency", "needs delay="),
                       ("reset status=503", "status= applies to status faults"),
                       ("reset op=fly", "unknown op 'fly'"), ("", "empty fault spec")]:
        with pytest.raises(FaultSpecError, match=words):
            FaultSet().add(bad) if bad else parse_spec(bad)


def _decisions(rule_kwargs, n=200, key="k"):
    faults = FaultSet()
    faults.add("reset", **rule_kwargs)
    return [faults.pick("GET", "get", "b", "o", f"{key}{i}") is not None for i in range(n)]


def test_probability_is_seeded_and_keyed_by_request():
    a = _decisions({"probability": 0.3, "seed": 7})
    assert a == _decisions({"probability": 0.3, "seed": 7})
    assert a != _decisions({"probability": 0.3, "seed": 8})
    assert 30 <= sum(a) <= 90
    # the same request asked again draws afresh: a retry is not doomed to fail forever
    faults = FaultSet()
    faults.add("reset", probability=0.5, seed=1)
    again = [faults.pick("GET", "get", "b", "o", "same") is not None for _ in range(64)]
    assert 0 < sum(again) < 64


def test_first_and_every_count_matches():
    assert _decisions({"first": 3}, 10) == [True] * 3 + [False] * 7
    assert _decisions({"every": 4}, 12) == [False, False, False, True] * 3
    assert _decisions({"first": 8, "every": 2}, 12) == [False, True] * 4 + [False] * 4


def test_matching_filters_and_counters():
    faults = FaultSet()
    rule = faults.add("reset", op="get", bucket="tr*", object="*.tar", method="GET")
    assert faults.pick("GET", "get", "train", "a.tar", "1") is not None
    assert faults.pick("GET", "get", "test", "a.tar", "2") is None
    assert faults.pick("GET", "get", "train", "a.jpg", "3") is None
    assert faults.pick("HEAD", "head", "train", "a.tar", "4") is None
    assert faults.pick("GET", "list", "train", None, "5") is None
    assert (rule.matched, rule.fired) == (1, 1)
    obj_rule = faults.add("truncate", op="object")
    assert faults.pick("PUT", "put", "x", "y", "6").kind == "truncate"
    assert obj_rule.fired == 1


def test_modifiers_combine_and_first_terminal_wins():
    faults = FaultSet()
    faults.add("latency", delay=0.01)
    faults.add("latency", delay=0.02)
    faults.add("slow", rate=1000)
    first = faults.add("503")
    second = faults.add("reset")
    fault = faults.pick("GET", "get", "b", "o", "k")
    assert fault.kind == "status" and fault.status == 503
    assert fault.delay == pytest.approx(0.03) and fault.rate == 1000
    assert (first.fired, second.matched) == (1, 0)


def test_inject_removes_its_rule_and_reset_clears_all():
    emu = Emulator()
    with emu.faults.inject("503") as rule:
        assert emu.faults.rules() == [rule]
    assert emu.faults.rules() == []
    emu.faults.add("reset")
    emu.reset()
    assert not emu.faults.active


def test_control_routes_are_never_faulted():
    emu = Emulator()
    emu.faults.add("503")
    assert dispatch(emu, Request("GET", "/v1/__emulator__/faults")).status == 200
    assert dispatch(emu, Request("GET", "/v1/health")).status == 503


# -- each fault, both transports ---------------------------------------------------------


def test_status_fault_is_an_ais_error_with_retry_after(transport):
    emu, client = transport
    emu.faults.add("503", first=1)
    with pytest.raises(AISError) as info:
        get(client)
    assert info.value.status_code == 503
    assert "injected fault" in info.value.message
    assert get(client).read() == DATA  # the next request is served
    emu.faults.add("429", retry_after=7, first=1)
    url = client.bucket("b").object("o").get_url()
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert resp.json()["status"] == 429


def test_reset_before_headers(transport):
    emu, client = transport
    rule = emu.faults.add("reset", op="get", first=1)
    with pytest.raises(requests.ConnectionError) as info:
        get(client)
    assert "reset by peer" in str(info.value).lower()
    assert get(client).read() == DATA
    assert (rule.matched, rule.fired) == (2, 1)


def test_reset_after_bytes(transport):
    emu, client = transport
    emu.faults.add("reset", after=1000, first=1)
    raw = get(client)
    got = b""
    with pytest.raises(ProtocolError) as info:
        while True:
            piece = raw.read(500)
            if not piece:
                break
            got += piece
    assert "reset by peer" in str(info.value).lower()
    assert got == DATA[:1000]


def test_truncate_announces_the_whole_length(transport):
    emu, client = transport
    emu.faults.add("truncate", after=5000, first=2)
    raw = get(client)
    assert raw.headers["Content-Length"] == str(len(DATA))
    with pytest.raises(ProtocolError, match="IncompleteRead"):
        raw.read()
    got = b""
    raw = get(client)
    with pytest.raises(ProtocolError, match="IncompleteRead"):
        while piece := raw.read(4096):
            got += piece
    assert got == DATA[:5000]


def test_stall_ends_in_the_clients_timeout(transport):
    emu, client = transport
    emu.faults.add("stall", first=1, delay=5)
    t0 = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        get(client)
    assert 0.4 < time.monotonic() - t0 < 3
    emu.faults.add("stall", after=100, first=1, delay=5)
    raw = get(client)
    with pytest.raises(ReadTimeoutError):
        raw.read()


def test_corrupt_flips_one_byte(transport):
    emu, client = transport
    emu.faults.add("corrupt", first=1, seed=3)
    raw = get(client)
    got = raw.read()
    diff = [i for i in range(len(DATA)) if got[i] != DATA[i]]
    assert len(got) == len(DATA) and len(diff) == 1
    assert got[diff[0]] == DATA[diff[0]] ^ 0xFF
    assert raw.headers["Ais-Checksum-Value"] == emu.store.head_object(
        emu.bucket_id("b"), "o").cksum_value
    emu.faults.add("corrupt", at=10, first=1)
    assert get(client).read()[10] == DATA[10] ^ 0xFF


def test_latency_and_slow_bodies(transport):
    emu, client = transport
    with emu.faults.inject("latency", delay=0.3):
        t0 = time.monotonic()
        assert get(client).read() == DATA
        assert time.monotonic() - t0 >= 0.3
    with emu.faults.inject("slow", rate=len(DATA) * 2):  # ~0.5 s for the body
        t0 = time.monotonic()
        assert get(client).read() == DATA
        assert time.monotonic() - t0 >= 0.4


def test_faults_on_other_operations(transport):
    emu, client = transport
    bucket = client.bucket("b")
    emu.faults.add("503", op="list", first=1)
    with pytest.raises(AISError, match="503"):
        bucket.list_all_objects()
    assert [e.name for e in bucket.list_all_objects()] == ["o"]
    emu.faults.add("reset", op="put", first=1)
    with pytest.raises(requests.ConnectionError):
        bucket.object("new").get_writer().put_content(b"x")
    with pytest.raises(ObjectNotFound):  # a reset before the reply: the PUT was not applied
        emu.store.head_object(emu.bucket_id("b"), "new")
    bucket.object("new").get_writer().put_content(b"x")
    assert emu.get_object("b", "new") == b"x"


# -- the HTTP server's real socket behaviour ----------------------------------------------


def _raw_exchange(srv, request: bytes) -> tuple[bytes, BaseException | None]:
    host, port = srv.url.split("//")[1].rsplit(":", 1)
    out = b""
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(request)
        try:
            while chunk := s.recv(65536):
                out += chunk
        except OSError as err:
            return out, err
    return out, None


def test_server_reset_is_a_tcp_rst_and_truncate_a_clean_close():
    with EmulatorServer() as srv:
        srv.emulator.create_bucket("b")
        srv.emulator.put_object("b", "o", DATA)
        req = b"GET /v1/objects/b/o HTTP/1.1\r\nHost: x\r\n\r\n"
        srv.emulator.faults.add("reset", first=1)
        out, err = _raw_exchange(srv, req)
        assert out == b"" and isinstance(err, ConnectionResetError)
        srv.emulator.faults.add("truncate", after=1000, first=1)
        out, err = _raw_exchange(srv, req)
        head, _, body = out.partition(b"\r\n\r\n")
        assert err is None and f"Content-Length: {len(DATA)}".encode() in head
        assert body == DATA[:1000]
        # the server goes on serving on new connections
        conn = http.client.HTTPConnection(*srv.url.split("//")[1].rsplit(":", 1), timeout=5)
        conn.request("GET", "/v1/objects/b/o")
        assert conn.getresponse().read() == DATA


def test_server_stall_releases_when_the_client_leaves():
    with EmulatorServer() as srv:
        srv.emulator.create_bucket("b")
        srv.emulator.faults.add("stall", delay=60)
        t0 = time.monotonic()
        with pytest.raises(requests.ReadTimeout):
            requests.get(srv.url + "/v1/health", timeout=(2, 0.3))
        srv.emulator.faults.clear()
        assert requests.get(srv.url + "/v1/health", timeout=5).status_code == 200
    assert time.monotonic() - t0 < 10  # stopping did not wait for the stall


# -- REST -----------------------------------------------------------------------------------


def test_rest_route_adds_lists_and_removes_rules():
    with EmulatorServer() as srv:
        srv.emulator.create_bucket("b")
        base = srv.url + "/v1/__emulator__/faults"
        out = requests.post(base, json=[{"spec": "503 op=list first=1"},
                                        {"kind": "reset", "after": 10, "probability": 0.5}])
        assert out.status_code == 200
        ids = [r["id"] for r in out.json()["rules"]]
        assert requests.get(srv.url + "/v1/buckets/b", json={"action": "list"}).status_code == 503
        rules = requests.get(base).json()["rules"]
        assert [(r["kind"], r["matched"], r["fired"]) for r in rules] == [
            ("status", 1, 1), ("reset", 0, 0)]
        assert requests.get(f"{base}/{ids[0]}").json()["fired"] == 1
        bad = requests.post(base, json=[{"kind": "reset"}, {"kind": "reset", "p": 5}])
        assert bad.status_code == 400 and "probability" in bad.json()["message"]
        assert len(requests.get(base).json()["rules"]) == 2  # all or nothing
        assert requests.post(base, json={"kind": "reset", "colour": 1}).status_code == 400
        assert requests.delete(f"{base}/{ids[0]}").status_code == 200
        assert requests.delete(f"{base}/{ids[0]}").status_code == 404
        assert requests.get(f"{base}/abc").status_code == 400
        assert requests.delete(base).status_code == 200
        assert requests.get(base).json() == {"rules": []}


@pytest.mark.parametrize("spec", ["reset after=2000", "truncate after=2000",
                                  "stall after=2000 delay=5"])
def test_requests_sees_what_a_real_connection_gives(transport, spec):
    """Through ``requests`` itself: a broken body is a ChunkedEncodingError (reset,
    truncation) or a ConnectionError (read timeout), on both transports alike."""
    emu, client = transport
    emu.faults.add(spec, first=1)
    url = client.bucket("b").object("o").get_url()
    resp = requests.get(url, stream=True, timeout=(2, 0.5))
    expected = requests.ConnectionError if spec.startswith("stall") else \
        requests.exceptions.ChunkedEncodingError
    with pytest.raises(expected):
        for _ in resp.iter_content(1024):
            pass


def test_random_cut_points_are_seeded_and_inside_the_body(transport):
    emu, client = transport
    cuts = []
    for seed in (1, 2, 3):
        emu.faults.add("truncate", first=1, seed=seed)
        got = b""
        raw = get(client)
        with pytest.raises(ProtocolError):
            while piece := raw.read(4096):
                got += piece
        cuts.append(len(got))
    assert len(set(cuts)) == 3 and all(0 <= n < len(DATA) for n in cuts)


def test_active_rules_never_read_object_data_when_they_match():
    """Matching keys on a control body (GetBatch names its objects there), never on object
    data: a streamed PUT larger than any control body is stored whole while rules run."""
    emu = Emulator()
    emu.create_bucket("b")
    emu.faults.add("503 op=batch p=0.5 seed=3")  # active, and matched against every request
    data = bytes(range(256)) * (17 * 4096)       # 17 MiB: over the control-body cap
    with EmulatorServer(port=0, emulator=emu) as srv:
        chunks = (data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20))
        r = requests.put(f"{srv.url}/v1/objects/b/big", data=chunks, timeout=60)
        assert r.status_code == 200, r.text[:200]
    assert emu.get_object("b", "big") == data
