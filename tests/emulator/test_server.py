"""The threaded HTTP/1.1 transport: framing, keep-alive, bodies on every method, lifecycle."""

from __future__ import annotations

import http.client
import io
import socket
import tarfile
import threading

import pytest
import requests
from aistore.sdk import Client

from ais_emulator import Emulator, EmulatorServer, mock_ais


@pytest.fixture
def srv():
    with EmulatorServer() as s:
        s.emulator.create_bucket("b")
        yield s


def conn(srv) -> http.client.HTTPConnection:
    host, port = srv.url.split("//")[1].rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=10)


def raw(srv, data: bytes) -> bytes:
    host, port = srv.url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_url_and_lifecycle():
    s = EmulatorServer(port=0)
    with pytest.raises(RuntimeError):
        _ = s.url
    s.start()
    s.start()
    url = s.url
    assert url.startswith("http://127.0.0.1:")
    assert requests.get(url + "/v1/health").status_code == 200
    s.stop()
    s.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v1/health", timeout=2)


def test_stop_closes_idle_keepalive_connections():
    s = EmulatorServer().start()
    c = conn(s)
    c.request("GET", "/v1/health")
    assert c.getresponse().read() == b""
    s.stop()  # must not hang on the idle connection
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        c.request("GET", "/v1/health")
        c.getresponse()


def test_keepalive_many_requests_one_connection(srv):
    srv.emulator.put_object("b", "o", b"abc")
    c = conn(srv)
    for _ in range(20):
        c.request("GET", "/v1/objects/b/o")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"abc"
    # an error reply keeps the connection usable too
    c.request("GET", "/v1/objects/b/missing")
    r = c.getresponse()
    assert r.status == 404 and r.getheader("Content-Type") == "application/json"
    r.read()
    c.request("GET", "/v1/health")
    assert c.getresponse().status == 200
    c.close()


def test_head_announces_size_without_body(srv):
    srv.emulator.put_object("b", "o", b"x" * 4321)
    c = conn(srv)
    c.request("HEAD", "/v1/objects/b/o?props=name,size")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Length") == "4321"
    assert r.read() == b""
    c.request("GET", "/v1/health")  # the connection is still in sync
    assert c.getresponse().status == 200


def test_bucket_head_has_no_content_length_and_keeps_the_connection(srv):
    c = conn(srv)
    for path in ("/v1/buckets/b", "/v1/buckets/missing", "/v1/objects/b/missing"):
        c.request("HEAD", path)
        r = c.getresponse()
        assert r.status in (200, 404) and r.read() == b""
        assert r.getheader("Content-Length") is None and r.getheader("Connection") is None
        assert r.getheader("Transfer-Encoding") is None
    c.request("GET", "/v1/health")  # the same connection, still in sync
    assert c.getresponse().status == 200


def test_json_bodies_on_get_and_delete(srv):
    act = b'{"action":"list","name":"","value":{"props":"name"}}'
    c = conn(srv)
    c.request("GET", "/v1/buckets/b", body=act, headers={"Accept": "application/msgpack"})
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type") == "application/msgpack"
    r.read()
    c.request("DELETE", "/v1/buckets/b", body=b'{"action":"destroy-bck","name":"","value":null}')
    assert c.getresponse().status == 200
    assert srv.emulator.list_buckets() == []


def test_chunked_request_body(srv):
    r = requests.put(srv.url + "/v1/objects/b/chunked", data=iter([b"part1-", b"part2"]))
    assert r.status_code == 200
    assert srv.emulator.get_object("b", "chunked") == b"part1-part2"


def test_unknown_length_reply_is_chunked(srv):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name in ("a.txt", "b.txt"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"1"))
    srv.emulator.put_object("b", "s.tar", buf.getvalue())
    c = conn(srv)
    c.request("GET", "/v1/objects/b/s.tar?archregx=txt&archmode=suffix")
    r = c.getresponse()
    assert r.getheader("Transfer-Encoding") == "chunked" and r.getheader("Content-Length") is None
    with tarfile.open(fileobj=io.BytesIO(r.read())) as tf:
        assert tf.getnames() == ["a.txt", "b.txt"]
    c.request("GET", "/v1/health")
    assert c.getresponse().status == 200


def test_http10_closes(srv):
    out = raw(srv, b"GET /v1/health HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and b"Connection: close" in out


def test_expect_100_continue(srv):
    out = raw(srv, b"PUT /v1/objects/b/e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                   b"Expect: 100-continue\r\nConnection: close\r\n\r\nabc")
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200")
    assert srv.emulator.get_object("b", "e") == b"abc"


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"PUT /v1/objects/b/x HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
    b"PUT /v1/objects/b/x HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"PUT /v1/objects/b/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
    b"PUT /v1/objects/b/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /v1/health HTTP/1.1\r\nno-colon-here\r\n\r\n",
])
def test_malformed_requests_get_400(srv, request_bytes):
    assert raw(srv, request_bytes).startswith(b"HTTP/1.1 400")
    assert requests.get(srv.url + "/v1/health").status_code == 200


def test_absolute_form_target(srv):
    out = raw(srv, b"GET http://elsewhere/v1/health HTTP/1.1\r\nHost: elsewhere\r\n"
                   b"Connection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200")


def test_direct_url_is_the_bound_address_not_the_host_header(srv):
    port = srv.url.rsplit(":", 1)[1]
    smap = requests.get(f"http://localhost:{port}/v1/daemon", params={"what": "smap"},
                        headers={"Host": f"attacker.example:{port}"}).json()
    assert smap["proxy_si"]["public_net"]["direct_url"] == srv.url


def test_sdk_roundtrip_and_direct_read(srv):
    client = Client(srv.url)
    bck = client.bucket("b")
    data = bytes(range(256)) * 9000  # > 2 MiB: streamed in slices
    bck.object("big").get_writer().put_content(data)
    assert bck.object("big").get_reader().read_all() == data
    assert bck.object("big").get_reader(direct=True).read_all() == data
    assert b"".join(bck.object("big").get_reader()) == data
    assert bck.object("big").head().size == len(data)


def test_sdk_parallel_download(srv):
    client = Client(srv.url)
    data = bytes(range(251)) * 1000
    bck = client.bucket("b")
    mpu = bck.object("mp").multipart_upload().create()
    mpu.add_part(1).put_content(data[:100_000])
    mpu.add_part(2).put_content(data[100_000:])
    mpu.complete()
    buf = bck.object("mp").get_reader(num_workers=2).read_all()
    try:
        assert buf.tobytes() == data
    finally:
        buf.close()


def test_concurrent_clients(srv):
    for i in range(8):
        srv.emulator.put_object("b", f"o{i}", f"payload-{i}".encode() * 100)
    errors = []

    def worker(k):
        try:
            client = Client(srv.url)
            for j in range(30):
                name = f"o{(k + j) % 8}"
                got = client.bucket("b").object(name).get_reader().read_all()
                assert got == f"payload-{name[1:]}".encode() * 100
                client.bucket("b").object(f"w{k}").get_writer().put_content(b"%d" % j)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert srv.emulator.get_object("b", "w3") == b"29"


def test_both_transports_share_one_emulator():
    emu = Emulator()
    with EmulatorServer(emulator=emu) as srv, mock_ais(emulator=emu, passthrough=srv.url) as m:
        Client(srv.url).bucket("shared").create()
        m.client().bucket("shared").object("o").get_writer().put_content(b"via mock")
        assert Client(srv.url).bucket("shared").object("o").get_reader().read_all() == b"via mock"


def test_reset_route_over_http(srv):
    srv.emulator.put_object("b", "o", b"x")
    assert requests.post(srv.url + "/v1/__emulator__/reset").status_code == 200
    assert srv.emulator.list_buckets() == []
