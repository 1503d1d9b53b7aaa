"""The in-process transport: ``mock_ais`` as context manager, decorator, nested, streaming."""

from __future__ import annotations

import io
import re
import unittest

import pytest
import requests

from ais_emulator import BlockedRequestError, Emulator, EmulatorServer, mock_ais
from ais_emulator.api import Response, route
from ais_emulator.api.routes import ROUTES

A = "http://127.0.0.1:1"  # nothing listens there: a leak would be a ConnectionError
B = "http://127.0.0.1:2"


def refused(url: str) -> bool:
    try:
        requests.get(url + "/v1/health", timeout=2)
    except requests.ConnectionError:
        return True
    return False


def blocked(url: str) -> str:
    """The BlockedRequestError message of a GET of ``url`` (fails if it went anywhere)."""
    with pytest.raises(BlockedRequestError) as info:
        requests.get(url + "/v1/health", timeout=2)
    return str(info.value)


def test_context_manager_defaults():
    with mock_ais() as m:
        assert m.endpoint == "http://localhost:8080" and isinstance(m.emulator, Emulator)
        client = m.client()
        client.bucket("b").create()
        client.bucket("b").object("k").get_writer().put_content(b"v")
        assert m.emulator.get_object("b", "k") == b"v"
        assert client.cluster().is_ready()


def test_start_stop_idempotent():
    m = mock_ais(A)
    m.start()
    m.start()
    assert requests.get(A + "/v1/health").status_code == 200
    m.stop()
    m.stop()
    assert refused(A)


def test_restart_keeps_the_emulator():
    m = mock_ais(A).start()
    m.emulator.create_bucket("kept")
    m.stop()
    with m:
        assert [b.name for b in m.client().cluster().list_buckets()] == ["kept"]


calls = []


@mock_ais(A)
def decorated(name):
    client = mock_ais(A).emulator  # the nested, same-endpoint mock re-uses this emulator
    client.create_bucket(name)
    calls.append(requests.get(A + "/v1/buckets", params={"provider": "ais"}).json())


def test_function_decorator_fresh_state_per_call():
    calls.clear()
    decorated("one")
    decorated("two")
    assert [[b["name"] for b in c] for c in calls] == [["one"], ["two"]]
    assert refused(A)


@mock_ais
def test_bare_decorator():
    assert requests.get("http://localhost:8080/v1/health").status_code == 200


@mock_ais(A)
class TestDecoratedClass:
    def test_one(self):
        assert requests.get(A + "/v1/health").status_code == 200

    def test_two(self):
        assert requests.get(A + "/v1/buckets").json() == []


@mock_ais(A)
class DecoratedCase(unittest.TestCase):
    def setUp(self):
        requests.post(A + "/v1/buckets/seeded", json={"action": "create-bck", "name": "",
                                                      "value": None})

    def test_setup_state_is_visible(self):
        names = [b["name"] for b in requests.get(A + "/v1/buckets").json()]
        self.assertEqual(names, ["seeded"])


def test_unittest_class_decorator_runs():
    result = unittest.TextTestRunner(stream=io.StringIO()).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(DecoratedCase))
    assert result.wasSuccessful() and result.testsRun == 1
    assert refused(A)


def test_nested_different_endpoints():
    with mock_ais(A) as a:
        a.emulator.create_bucket("in-a")
        with mock_ais(B) as b:
            b.emulator.create_bucket("in-b")
            assert [x["name"] for x in requests.get(A + "/v1/buckets").json()] == ["in-a"]
            assert [x["name"] for x in requests.get(B + "/v1/buckets").json()] == ["in-b"]
        assert "http://localhost:1" in blocked(B)  # while A is mocked, B fails at once
        assert requests.get(A + "/v1/buckets").json()[0]["name"] == "in-a"
    assert refused(A)


def test_nested_same_endpoint_reuses_or_overrides():
    with mock_ais(A) as outer:
        with mock_ais(A) as inner:
            assert inner.emulator is outer.emulator
        other = Emulator()
        other.create_bucket("other")
        with mock_ais(A, emulator=other):
            assert requests.get(A + "/v1/buckets").json()[0]["name"] == "other"
        assert requests.get(A + "/v1/buckets").json() == []
        assert requests.get(A + "/v1/health").status_code == 200


def test_allowed_hosts_pass_through_to_real_servers():
    with EmulatorServer() as srv, mock_ais(A, passthrough=[srv.url]) as m:
        srv.emulator.create_bucket("real")
        m.emulator.create_bucket("mocked")
        assert requests.get(srv.url + "/v1/buckets").json()[0]["name"] == "real"
        other_spelling = srv.url.replace("127.0.0.1", "localhost")
        assert requests.get(other_spelling + "/v1/buckets").json()[0]["name"] == "real"
        assert requests.get(A + "/v1/buckets").json()[0]["name"] == "mocked"


@pytest.mark.parametrize("client_host", ["localhost", "127.0.0.1", "[::1]"])
@pytest.mark.parametrize("mocked_host", ["localhost", "127.0.0.1", "[::1]"])
def test_every_spelling_of_the_loopback_host_reaches_the_mock(mocked_host, client_host):
    from aistore.sdk import Client

    with mock_ais(f"http://{mocked_host}:8080") as m:
        m.emulator.create_bucket("here")
        client = Client(f"http://{client_host}:8080")
        assert [b.name for b in client.cluster().list_buckets()] == ["here"]


def test_a_request_no_mock_serves_fails_at_once_naming_the_endpoint():
    from aistore.sdk import Client
    from aistore.sdk.retry_config import NETWORK_RETRY_EXCEPTIONS

    with mock_ais():  # http://localhost:8080
        for url in ("http://127.0.0.1:8081", "http://localhost:9", "http://10.1.2.3:8080",
                    "https://localhost:8080"):
            with pytest.raises(BlockedRequestError) as info:
                Client(url).cluster().list_buckets()
            message = str(info.value)
            assert url.split("://")[1] in message and "http://localhost:8080" in message
            assert "passthrough=" in message
            # not an error type the SDK retries: it fails on the first attempt
            assert not isinstance(info.value, NETWORK_RETRY_EXCEPTIONS)


def test_passthrough_forms():
    with EmulatorServer() as srv:
        srv.emulator.create_bucket("real")
        port = srv.url.rsplit(":", 1)[1]
        for spec in (srv.url, [srv.url], f"http://localhost:{port}/v1/",
                     re.compile(rf"http://127\.0\.0\.1:{port}/"), True):
            with mock_ais(A, passthrough=spec):
                assert requests.get(srv.url + "/v1/buckets").json()[0]["name"] == "real"
        with mock_ais(A, passthrough=f"http://127.0.0.1:{port}/v1/objects/"):
            assert f"127.0.0.1:{port}/v1/buckets" in blocked(srv.url + "/v1/buckets?x=")
        with mock_ais(A) as m:
            assert srv.url in blocked(srv.url)
            m.add_passthrough(srv.url)
            assert requests.get(srv.url + "/v1/buckets").status_code == 200
            with mock_ais(B, passthrough=[srv.url]):  # an inner mock's passthrough adds up
                assert requests.get(B + "/v1/buckets").json() == []
    with pytest.raises(ValueError, match="expecting a URL"):
        mock_ais(A, passthrough="127.0.0.1:51180")
    with pytest.raises(TypeError):
        mock_ais(A, passthrough=[51180])


def test_a_let_through_server_may_redirect_to_another():
    """As an AIS proxy redirects object requests to a target: the target is let through."""
    import http.server
    import threading

    with EmulatorServer() as target:
        target.emulator.create_bucket("behind")

        class Redirect(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                self.send_response(307)
                self.send_header("Location", target.url + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=proxy.serve_forever, daemon=True)
        thread.start()
        try:
            proxy_url = f"http://127.0.0.1:{proxy.server_port}"
            with mock_ais(A, passthrough=proxy_url):
                assert target.url in blocked(target.url)  # not before the redirect
                assert requests.get(proxy_url + "/v1/buckets").json()[0]["name"] == "behind"
                assert requests.get(target.url + "/v1/buckets").status_code == 200
            with mock_ais(A, passthrough=proxy_url):  # forgotten with the patch
                assert target.url in blocked(target.url)
        finally:
            proxy.shutdown()
            proxy.server_close()
            thread.join()


def _get_status(url: str) -> int:
    return requests.get(url + "/v1/health", timeout=5).status_code


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawned_processes_get_a_clear_error(method):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    original = multiprocessing.process.BaseProcess.start
    with mock_ais() as m, EmulatorServer() as srv:
        m.add_passthrough(srv.url)
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context(method)) as pool:
            with pytest.raises(BlockedRequestError) as info:
                pool.submit(_get_status, "http://127.0.0.1:8080").result(timeout=60)
            assert pool.submit(_get_status, srv.url).result(timeout=60) == 200
    message = str(info.value)
    assert "started with 'spawn' or 'forkserver'" in message
    assert "http://localhost:8080" in message and "EmulatorServer" in message
    assert multiprocessing.process.BaseProcess.start is original  # unpatched when done


def test_forked_processes_keep_a_copy_of_the_mock():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with mock_ais():
        fork = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(1, mp_context=fork) as pool:
            assert pool.submit(_get_status, "http://localhost:8080").result(timeout=60) == 200


def test_endpoint_with_path_prefix():
    with mock_ais("http://127.0.0.1:1/ais/") as m:
        m.emulator.create_bucket("p")
        assert requests.get("http://127.0.0.1:1/ais/v1/buckets").json()[0]["name"] == "p"
        assert [b.name for b in m.client().cluster().list_buckets()] == ["p"]


def test_head_keeps_content_length():
    with mock_ais(A) as m:
        m.emulator.create_bucket("b")
        m.emulator.put_object("b", "o", b"x" * 1234)
        r = requests.head(A + "/v1/objects/b/o", params={"props": "name,size"})
        assert r.status_code == 200 and r.headers["Content-Length"] == "1234" and r.content == b""
        assert m.client().bucket("b").object("o").head().size == 1234


def test_bucket_head_has_no_content_length():
    with mock_ais(A) as m:
        m.emulator.create_bucket("b")
        for path, status in (("/v1/buckets/b", 200), ("/v1/buckets/nob", 404),
                             ("/v1/objects/b/nope", 404)):
            r = requests.head(A + path)
            assert r.status_code == status and "Content-Length" not in r.headers
            assert r.content == b""
        assert m.client().bucket("b").head()["Ais-Bucket-Props"]


def test_bodies_from_files_and_generators(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"file-bytes")
    with mock_ais(A) as m:
        bck = m.client().bucket("b").create()
        bck.object("f").get_writer().put_file(path)
        requests.put(A + "/v1/objects/b/g", data=(c for c in [b"gen", b"erated"]))
        assert m.emulator.get_object("b", "f") == b"file-bytes"
        assert m.emulator.get_object("b", "g") == b"generated"


def test_iterable_bodies_stream():
    produced = []

    def slow(emu, req):
        def gen():
            for i in range(100):
                produced.append(i)
                yield bytes([i]) * 1000
        return Response(200, {}, gen(), content_length=100_000)

    route("GET", "/v1/__test__/stream")(slow)
    try:
        with mock_ais(A):
            r = requests.get(A + "/v1/__test__/stream", stream=True)
            assert r.headers["Content-Length"] == "100000"
            first = next(r.iter_content(1000))
            assert first == b"\x00" * 1000
            assert len(produced) < 100  # not joined up front
            rest = b"".join(r.iter_content(4096))
            assert len(first) + len(rest) == 100_000 and len(produced) == 100
    finally:
        ROUTES._routes = [r for r in ROUTES._routes if r.template != "/v1/__test__/stream"]


def test_large_object_roundtrip_sdk_stream():
    data = bytes(range(256)) * 20_000  # ~5 MiB
    with mock_ais(A) as m:
        bck = m.client().bucket("b").create()
        bck.object("big").get_writer().put_content(data)
        reader = bck.object("big").get_reader(chunk_size=65536)
        assert b"".join(reader) == data
        assert bck.object("big").get_reader(byte_range="bytes=100-199").read_all() == data[100:200]


def test_unknown_route_is_loud():
    with mock_ais(A):
        r = requests.get(A + "/v2/whatever")
        assert r.status_code == 501 and "GET /v2/whatever" in r.json()["message"]


def test_repr_states():
    m = mock_ais(A)
    assert "stopped" in repr(m)
    with m:
        assert "started" in repr(m) and m.started


@pytest.mark.parametrize("endpoint", ["http://localhost:8080", "http://localhost:8080/"])
def test_endpoint_spellings(endpoint):
    with mock_ais(endpoint) as m:
        assert m.client().cluster().is_ready()


@pytest.mark.parametrize("ais_first", [True, False], ids=["mock_ais-then-mock_aws",
                                                          "mock_aws-then-mock_ais"])
def test_nests_with_moto_in_either_order(ais_first):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from contextlib import ExitStack

    with ExitStack() as stack:
        mocks = [mock_ais(), moto.mock_aws()]
        if not ais_first:
            mocks.reverse()
        entered = [stack.enter_context(m) for m in mocks]
        ais = entered[0] if ais_first else entered[1]
        bck = ais.client().bucket("both")
        bck.create()
        bck.object("o").get_writer().put_content(b"emulated")
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
        s3.create_bucket(Bucket="real-looking")
        s3.put_object(Bucket="real-looking", Key="k", Body=b"mocked s3")
        assert bck.object("o").get_reader().read_all() == b"emulated"
        assert s3.get_object(Bucket="real-looking", Key="k")["Body"].read() == b"mocked s3"
    from ais_emulator.transports.responses_mock import _INTERCEPTOR
    assert _INTERCEPTOR.lookup("http://localhost:8080/v1/health") is None
