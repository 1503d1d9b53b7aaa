"""Threaded HTTP/1.1 transport: a loopback server in front of an Emulator.

A lean HTTP/1.1 implementation on ``socketserver`` (one thread per connection):
keep-alive, request bodies on every method (Content-Length or chunked), replies framed
by Content-Length or, when the length is unknown, chunked encoding (a HEAD reply may
carry neither). Nagle is off; a response's bytes go straight from the store's immutable
buffers to ``sendall`` in memoryview slices (a 256 MiB object is never copied per
request).

    with EmulatorServer(port=0) as srv:
        Client(srv.url).bucket("b").create()
"""

from __future__ import annotations

import http.client
import logging
import socket
import socketserver
import threading
from typing import Optional

from ais_emulator.api import Request, Response, dispatch
from ais_emulator.emulator import Emulator
from ais_emulator.transports import faultexec

log = logging.getLogger("ais_emulator")
_MAX_LINE = 65536
_MAX_HEADERS = 200
_COMBINE = 256 * 1024  # small bodies go out with the headers in one send


class _BadRequest(Exception):
    pass


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass

    def handle(self) -> None:
        try:
            while self._one():
                pass
        except _BadRequest as e:
            try:
                self._fail(400, str(e))
            except OSError:
                pass
        except (OSError, ValueError):
            pass  # client went away, or the server is stopping

    def _line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise _BadRequest("request line or header too long")
        return line

    def _one(self) -> bool:
        line = self._line()
        if not line:
            return False
        try:
            method, target, version = line.decode("latin-1").split()
        except ValueError:
            if not line.strip():
                return True  # tolerate stray CRLF between requests
            return self._fail(400, "malformed request line")
        headers: dict[str, str] = {}
        while True:
            h = self._line()
            if h in (b"\r\n", b"\n", b""):
                break
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep or len(headers) >= _MAX_HEADERS:
                return self._fail(400, "malformed or too many headers")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if headers.get("expect", "").lower() == "100-continue":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = self._body(headers)
        path, _, query = target.partition("?")
        if path.startswith(("http://", "https://")):
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        host = headers.get("host") or self.server.netloc
        req = Request(method, path, query, headers, body, base_url=f"http://{host}",
                      remote_addr=f"{self.client_address[0]}:{self.client_address[1]}",
                      allow_etl_code=self.server.allow_etl_code)
        resp = dispatch(self.server.emulator, req)
        if resp.fault is not None:  # an injected reset, truncation or stall
            return faultexec.serve(self, method, resp, keep, version)
        self._send(method, resp, keep, version)
        return keep

    def _body(self, headers: dict) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = self._line().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    size = -1
                if size < 0:
                    raise _BadRequest("malformed chunk size")
                if size == 0:
                    while self._line() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = headers.get("content-length", "")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            n = -1
        if n < 0:
            raise _BadRequest("invalid Content-Length")
        data = self.rfile.read(n)
        if len(data) < n:
            raise OSError("client closed before sending the whole body")
        return data

    def _fail(self, status: int, message: str) -> bool:
        body = message.encode()
        self._send("GET", Response(status, {"Content-Type": "text/plain"}, body), False, "HTTP/1.1")
        return False

    def _send(self, method: str, resp: Response, keep: bool, version: str) -> None:
        length = resp.length()
        chunked = length is None and method != "HEAD" and version == "HTTP/1.1"
        lines = [f"HTTP/1.1 {resp.status} {http.client.responses.get(resp.status, 'Unknown')}"]
        lines += [f"{k}: {v}" for k, v in resp.headers.items()]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        if not keep or (length is None and not chunked and method != "HEAD"):
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")
        sock = self.connection
        if method == "HEAD":
            resp.close()
            sock.sendall(head)
            return
        body = resp.body
        if isinstance(body, (bytes, bytearray, memoryview)):
            if len(body) <= _COMBINE:
                sock.sendall(head + body)
            else:
                sock.sendall(head)
                sock.sendall(body)
            return
        sock.sendall(head)
        try:
            for chunk in body:
                if not len(chunk):
                    continue
                if chunked:
                    sock.sendall(b"%x\r\n" % len(chunk))
                    sock.sendall(chunk)
                    sock.sendall(b"\r\n")
                else:
                    sock.sendall(chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except Exception:
            log.exception("ais_emulator: streaming %s failed; closing the connection", method)
            raise OSError("stream aborted") from None
        finally:
            resp.close()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, emulator: Emulator, allow_etl_code: bool = False):
        super().__init__(addr, _Handler)
        self.emulator = emulator
        self.allow_etl_code = allow_etl_code
        host, port = self.server_address[:2]
        self.netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self._conns: set = set()
        self._conns_lock = threading.Lock()

    def track(self, conn, add: bool) -> None:
        with self._conns_lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def close_connections(self) -> None:
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Server6(_Server):
    address_family = socket.AF_INET6


class EmulatorServer:
    """Serve an Emulator over HTTP on ``host:port`` (port 0: pick a free one).

    ``allow_etl_code``: run the ETL classes clients send with ``init_class`` (off by
    default: a server runs code from whoever can reach it; the CLI's ``--allow-etl-code``).
    It may be changed while the server runs.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 emulator: Optional[Emulator] = None, allow_etl_code: bool = False):
        self.host, self.port = host, port
        self.emulator = emulator if emulator is not None else Emulator()
        self._allow_etl_code = bool(allow_etl_code)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("EmulatorServer is not started")
        host, port = self._server.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    @property
    def allow_etl_code(self) -> bool:
        return self._allow_etl_code

    @allow_etl_code.setter
    def allow_etl_code(self, value: bool) -> None:
        self._allow_etl_code = bool(value)
        if self._server is not None:
            self._server.allow_etl_code = self._allow_etl_code

    @property
    def started(self) -> bool:
        return self._server is not None

    def start(self) -> EmulatorServer:
        with self._lock:
            if self._server is None:
                cls = _Server6 if ":" in self.host else _Server
                server = cls((self.host, self.port), self.emulator, self._allow_etl_code)
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                          name=f"ais-emulator:{server.server_address[1]}", daemon=True)
                thread.start()
                self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server else f"{self.host}:{self.port} (stopped)"
        return f"EmulatorServer({where})"
