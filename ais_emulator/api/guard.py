"""Who may call the emulator over HTTP: browser pages may not (cross-origin, DNS rebinding).

A web page the user visits can send requests to a loopback server: a plain cross-origin
``POST`` needs no CORS preflight, and with DNS rebinding the page's own host name points
at 127.0.0.1. Browsers name the page in ``Origin`` and the host it thinks it talks to in
``Host``; the SDK and other programs send no ``Origin``, and a ``Host`` that is an address.

* any request whose ``Origin`` is not the emulator's own (``http://<allowed host>:<port>``)
  is refused (403), and so is one that a browser marks ``Sec-Fetch-Site: cross-site``;
* the emulator's control routes (``/v1/__emulator__/...``) also need a ``Host`` naming
  the bound address: the bound IP, ``localhost`` or a loopback IP when bound to loopback,
  any IP literal when bound to a wildcard address. A host name (what rebinding needs) is
  refused unless listed in ``allowed_hosts``; ``"*"`` turns the check off.

Real AIS checks neither (a deviation only browsers can see).

    guard = Guard.for_bind("127.0.0.1", 51080)
    guard.check(request)          # raises ApiError(403) for a page's request
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ais_emulator.api.errors import ApiError

CONTROL_PREFIX = "/v1/__emulator__/"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})


def _ip(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def split_host(value: str) -> tuple[str, str]:
    """``host[:port]`` or ``[v6][:port]`` -> (lowercase host without brackets, port)."""
    value = value.strip().lower()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else ""
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return host, port


def is_control(req) -> bool:
    """Whether ``req`` addresses a control route (as the route table would match it)."""
    try:
        path = req.decoded_path
    except UnicodeDecodeError:
        path = req.path
    return ("/" + path.lstrip("/")).startswith(CONTROL_PREFIX)


@dataclass(frozen=True)
class Guard:
    port: int
    hosts: frozenset      # host names and addresses accepted in Host (lowercase)
    any_ip: bool          # bound to a wildcard address: any IP literal is the server
    allowed_hosts: frozenset = frozenset()    # extra names; "*": any Host
    allowed_origins: frozenset = frozenset()  # extra origins; "*": any Origin

    @classmethod
    def for_bind(cls, host: str, port: int, allowed_hosts: Iterable[str] = (),
                 allowed_origins: Iterable[str] = ()) -> Guard:
        ip = _ip(host)
        hosts = {host.strip("[]").lower()}
        if ip is not None and (ip.is_loopback or ip.is_unspecified):
            hosts |= _LOOPBACK_NAMES
        return cls(port, frozenset(hosts), ip is not None and ip.is_unspecified,
                   frozenset(h.lower() for h in allowed_hosts),
                   frozenset(o.lower().rstrip("/") for o in allowed_origins))

    def host_ok(self, host: str) -> bool:
        if "*" in self.allowed_hosts:
            return True
        name, _ = split_host(host)
        if not name:
            return False
        if name in self.hosts or name in self.allowed_hosts:
            return True
        return self.any_ip and _ip(name) is not None

    def origin_ok(self, origin: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        parts = urlsplit(origin)
        try:
            port = parts.port
        except ValueError:
            return False
        if parts.scheme != "http" or port != self.port or parts.path:
            return False
        return self.host_ok(parts.netloc)

    def check(self, req) -> None:
        """Raise ApiError(403) when ``req`` may come from a browser page it should not."""
        origin = req.header("origin")
        if origin and not self.origin_ok(origin):
            raise ApiError(403, f"cross-origin request refused: Origin {origin!r} is not this "
                                "emulator (start it with --allow-origin to permit it)")
        if req.header("sec-fetch-site") == "cross-site" and "*" not in self.allowed_origins:
            raise ApiError(403, "cross-site request refused (Sec-Fetch-Site: cross-site)")
        if is_control(req) and not self.host_ok(req.header("host")):
            raise ApiError(403, f"control route refused: Host {req.header('host')!r} is not "
                                "the emulator's address (start it with --allow-host to "
                                "permit it)")
