"""Threaded HTTP/1.1 transport: a loopback server in front of an Emulator.

One thread per connection, at most ``max_connections`` of them: at the cap the oldest
connection waiting between requests (or still sending its head) is closed, else the new
one waits. Framing, limits and timeouts are ``http11``'s; request bodies reach handlers
as streams, so object bytes are held once. Replies are framed by Content-Length or, when
the length is unknown, chunked (a HEAD reply may carry neither); Nagle is off; bodies go
straight from the store's immutable buffers to the socket in slices of at most 1 MiB,
each within ``read_timeout``. ``direct_url`` and ETL callbacks use the address the
client connected to, never its Host header; browser pages are kept out by ``guard``.

    with EmulatorServer(port=0) as srv:
        Client(srv.url).bucket("b").create()
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Iterable
from typing import Optional

from ais_emulator.api import Request, Response, StreamAborted, dispatch
from ais_emulator.api.guard import Guard
from ais_emulator.emulator import Emulator
from ais_emulator.limits import ServerLimits
from ais_emulator.transports import faultexec
from ais_emulator.transports.http11 import Wire
from ais_emulator.transports.http_head import Refusal

log = logging.getLogger("ais_emulator")
_COMBINE = 256 * 1024  # small bodies go out with the headers in one send
_SLICE = 1 << 20
_DRAIN = 64 * 1024     # an unread body this small is read and dropped to keep the connection
_UNSAFE = str.maketrans({"\r": " ", "\n": " ", "\0": " "})


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.connection = self.request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wire = Wire(self.connection, self.server.limits)
        self.server.track(self, True)

    def finish(self) -> None:
        self.server.track(self, False)

    def handle(self) -> None:
        first = True
        try:
            while True:
                try:
                    head = self.wire.read_head(first)
                except Refusal as r:
                    self._refuse(r.status, r.reason)
                    return
                if head is None or not self._one(head):
                    return
                first = False
        except OSError:
            pass  # the client went away, or the server is stopping
        except Exception:  # a transport bug: say so, once, and drop the connection
            log.exception("ais_emulator: connection from %s failed", self.client_address[0])

    def _one(self, head) -> bool:
        target = head.target
        if target.startswith(("http://", "https://")):
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        path, _, query = target.partition("?")
        body = self.wire.body(head)
        local = self.connection.getsockname()
        req = Request(head.method, path, query, head.headers, body,
                      base_url=_url(local[0], local[1]),
                      remote_addr=f"{self.client_address[0]}:{self.client_address[1]}",
                      allow_etl_code=self.server.allow_etl_code, guard=self.server.guard)
        resp = dispatch(self.server.emulator, req)
        if resp.fault is not None:  # an injected reset, truncation or stall
            return faultexec.serve(self, head.method, resp, False, head.version)
        keep = head.keep_alive and not body.broken and body.drain(_DRAIN)
        self._send(head.method, resp, keep, head.version)
        return keep

    def _refuse(self, status: int, reason: str) -> None:
        body = f"{status} {http.client.responses.get(status, 'Error')}: {reason}".encode()
        try:
            self._send("GET", Response(status, {"Content-Type": "text/plain; charset=utf-8"},
                                       body), False, "HTTP/1.1")
        except OSError:
            pass

    def _send(self, method: str, resp: Response, keep: bool, version: str) -> None:
        """The one place a reply is written (head, then the body as it comes)."""
        length = resp.length()
        chunked = length is None and method != "HEAD" and version == "HTTP/1.1"
        lines = [f"HTTP/1.1 {resp.status} {http.client.responses.get(resp.status, 'Unknown')}"]
        lines += [f"{k}: {_line_safe(v)}" for k, v in resp.headers.items()]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        elif chunked:
            lines.append("Transfer-Encoding: chunked")
        if not keep or (length is None and not chunked and method != "HEAD"):
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
        sock = self.connection
        sock.settimeout(self.server.limits.read_timeout)
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
                _send_slices(sock, body)
            return
        sock.sendall(head)
        try:
            it = iter(body)
            while True:
                try:
                    chunk = next(it)
                except StopIteration:
                    break
                except StreamAborted as e:  # expected: the reply is cut, the client sees it
                    log.warning("ais_emulator: %s reply cut short: %s", method, e)
                    raise OSError("stream aborted") from None
                except Exception:  # the body's producer failed: an emulator bug
                    log.exception("ais_emulator: streaming a %s reply failed; closing the "
                                  "connection", method)
                    raise OSError("stream aborted") from None
                if not len(chunk):
                    continue
                if chunked:
                    sock.sendall(b"%x\r\n" % len(chunk))
                    _send_slices(sock, chunk)
                    sock.sendall(b"\r\n")
                else:
                    _send_slices(sock, chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        finally:
            resp.close()


def _line_safe(value) -> str:
    """The last check before the wire: no CR, LF or NUL in a header line, whatever built
    the reply (``dispatch`` already cleans what handlers set)."""
    text = str(value)
    return text.translate(_UNSAFE) if ("\r" in text or "\n" in text or "\0" in text) else text


def _send_slices(sock: socket.socket, data) -> None:
    if len(data) <= _SLICE:
        sock.sendall(data)
        return
    view = memoryview(data)
    for off in range(0, len(view), _SLICE):
        sock.sendall(view[off:off + _SLICE])  # each slice within the socket's timeout


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, emulator: Emulator, allow_etl_code: bool, limits: ServerLimits,
                 allowed_hosts: Iterable[str], allowed_origins: Iterable[str]):
        super().__init__(addr, _Handler)
        self.emulator = emulator
        self.allow_etl_code = allow_etl_code
        self.limits = limits
        host, port = self.server_address[:2]
        self.guard = Guard.for_bind(host, port, allowed_hosts, allowed_origins)
        self._conns: dict = {}  # handler -> time it started
        self._cond = threading.Condition()
        self._closing = False

    def track(self, handler, add: bool) -> None:
        with self._cond:
            if add:
                self._conns[handler] = time.monotonic()
            else:
                self._conns.pop(handler, None)
                self._cond.notify()

    def process_request(self, request, client_address) -> None:
        """Start a thread for the connection once a slot is free (see the module doc)."""
        with self._cond:
            while len(self._conns) >= self.limits.max_connections and not self._closing:
                waiting = [h for h in self._conns if h.wire.waiting]
                if waiting:
                    _shut(min(waiting, key=self._conns.__getitem__).connection)
                self._cond.wait(0.05)
        super().process_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        log.exception("ais_emulator: connection from %s failed", client_address[0])

    def close_connections(self) -> None:
        with self._cond:
            self._closing = True
            handlers = list(self._conns)
            self._cond.notify_all()
        for h in handlers:
            _shut(h.connection)


def _shut(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Server6(_Server):
    address_family = socket.AF_INET6


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class EmulatorServer:
    """Serve an Emulator over HTTP on ``host:port`` (port 0: pick a free one).

    ``allow_etl_code``: run the ETL classes clients send with ``init_class`` (off by
    default: a server runs code from whoever can reach it; the CLI's ``--allow-etl-code``).
    It may be changed while the server runs. ``limits``: framing bounds and timeouts
    (``ais_emulator.limits.ServerLimits``). ``allowed_hosts`` / ``allowed_origins``: Host
    names and browser origins to accept besides the bound address (``"*"``: any; see
    ``ais_emulator.api.guard``). Binding a non-loopback address logs a warning.

    ``data_dir`` (instead of ``emulator``): serve a durable Emulator over that directory,
    opened here, closed by ``stop()`` and opened again by a later ``start()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 emulator: Optional[Emulator] = None, allow_etl_code: bool = False, *,
                 limits: Optional[ServerLimits] = None, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = (), data_dir: Optional[str] = None):
        if emulator is not None and data_dir is not None:
            raise ValueError("EmulatorServer: give an emulator or a data_dir, not both")
        self.host, self.port = host, port
        self._data_dir = data_dir
        self.emulator = emulator if emulator is not None else Emulator(data_dir=data_dir)
        self.limits = limits or ServerLimits()
        self.allowed_hosts, self.allowed_origins = tuple(allowed_hosts), tuple(allowed_origins)
        self._allow_etl_code = bool(allow_etl_code)
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("EmulatorServer is not started")
        host, port = self._server.server_address[:2]
        return _url(host, port)

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
                if self._data_dir is not None and self.emulator.store.closed:
                    self.emulator = Emulator(data_dir=self._data_dir)
                cls = _Server6 if ":" in self.host else _Server
                server = cls((self.host, self.port), self.emulator, self._allow_etl_code,
                             self.limits, self.allowed_hosts, self.allowed_origins)
                thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                          name=f"ais-emulator:{server.server_address[1]}", daemon=True)
                thread.start()
                self._server, self._thread = server, thread
                if not is_loopback(self.host):
                    log.warning("ais_emulator: serving on %s, reachable from other machines: "
                                "anyone who can connect may read and change all data%s",
                                self.url, " AND RUN CODE (allow_etl_code)" if
                                self._allow_etl_code else "")
        return self

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.close_connections()
        server.shutdown()
        server.server_close()
        server.close_connections()
        thread.join(timeout=5)
        if self._data_dir is not None:
            self.emulator.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server else f"{self.host}:{self.port} (stopped)"
        return f"EmulatorServer({where})"
