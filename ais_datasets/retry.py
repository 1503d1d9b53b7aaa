"""Retries: how a dataset's reads get through 503s, dropped connections and stalls.

One object, :class:`RetryPolicy`, passed as the keyword ``retry=`` to any dataset, says
how hard reads try::

    ds = AISShardReader(bucket, retry=RetryPolicy(attempts=8, timeout=(3, 10)))

What it governs, for every request a dataset sends (GET, HEAD, GetBatch):

* **Failures before a reply**: a connection refused or reset, a timeout waiting for the
  headers, and the statuses AIS answers while busy or restarting
  (``TRANSIENT_STATUSES``: 429, 500, 502, 503, 504) are tried up to ``attempts`` times in
  all. Between tries the wait grows exponentially with full jitter: try ``k + 1`` waits a
  uniform draw from ``[0, min(max_backoff, backoff * 2**(k - 1))]``. A ``Retry-After``
  header (seconds or an HTTP date) replaces the draw, up to ``MAX_RETRY_AFTER``.
* **Failures inside a body** (the connection drops, the body ends short of its
  Content-Length, a stall ends in the read timeout): the read goes on from the byte it
  reached with a Range GET (:class:`~ais_datasets.reading.ObjectStream`). A resume right
  after progress is immediate (no back-off: nothing suggests the cluster is overloaded);
  ``attempts`` bounds the failures in a row that bring no new byte, with the same
  back-off between them.
* **Stalls**: ``timeout`` (seconds, or ``(connect, read)``) replaces the client's own
  timeout for the dataset's requests (the SDK default is ``(3, 20)``); a stalled read
  ends in that timeout and is handled as above.
* **Permanent errors are not retried**: any other 4xx (a missing bucket or object, a bad
  token, a bad request) fails at once, with the SDK's own error type.

The SDK's retry settings. The ``aistore`` SDK retries on its own: urllib3 status retries
(by default 5, with a 3 s back-off factor: about 90 s for a 503 that persists) and
tenacity network retries (by default 7 tries, at least 1 s apart). Stacking a second loop
on those multiplies the waits. So a dataset's requests go through a view of the user's
client (:mod:`ais_datasets.sessions`) in which exactly one loop runs:

* ``retry=None`` (default): if the client carries the SDK's default ``RetryConfig``,
  this module's :data:`DEFAULT` policy replaces it for the dataset's requests. If the
  user built the client with a ``retry_config`` of their own, *their* settings retry
  the requests, unchanged, and the dataset adds only what the SDK does not do (Range
  resumes of cut bodies, checksum re-reads), bounded by :data:`DEFAULT`'s ``attempts``.
* ``retry=RetryPolicy(...)``: that policy replaces the client's retries for the
  dataset's requests (the client itself is not changed). ``RetryPolicy(client_retries=True)``
  asks for the user's client retries explicitly.

Worst case. A read gives up after ``attempts`` tries, each bounded by the timeout, with
waits of at most ``max_backoff`` (or ``MAX_RETRY_AFTER``) between them; with the defaults
and the SDK's ``(3, 20)`` timeout a 503 that persists surfaces in about 2 s (plus the
Retry-After the cluster asks for), a dead endpoint in well under a minute.
"""

from __future__ import annotations

import email.utils
import random
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union

from requests.exceptions import ChunkedEncodingError
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout as RequestsTimeout
from urllib3.exceptions import ProtocolError, ReadTimeoutError

from ais_datasets._sdk_adapter import retry_config_of

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 60.0
# a request that failed before (or while receiving) its reply: refused, reset, timed out
REQUEST_ERRORS = (RequestsConnectionError, RequestsTimeout, ChunkedEncodingError,
                  ProtocolError, ReadTimeoutError)

Timeout = Union[float, tuple[Optional[float], Optional[float]], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and how patiently a dataset's reads are retried (module doc).

    Args:
        attempts: tries per request, the first included (and failures in a row without
            progress for a body being read); at least 1.
        backoff: seconds; the upper bound of the first wait (doubling after each failure).
        max_backoff: seconds; the largest upper bound a wait may have.
        timeout: ``(connect, read)`` seconds or one number for both, replacing the
            client's timeout for the dataset's requests; None keeps the client's.
        client_retries: leave request retries to the client's own ``retry_config``
            (the SDK's), adding only body resumes and checksum re-reads.
    """

    attempts: int = 6
    backoff: float = 0.1
    max_backoff: float = 5.0
    timeout: Timeout = None
    client_retries: bool = False

    def __post_init__(self) -> None:
        if int(self.attempts) < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, not {self.attempts}")
        if not self.backoff >= 0 or not self.max_backoff >= 0:
            raise ValueError("RetryPolicy.backoff and max_backoff must not be negative")
        object.__setattr__(self, "attempts", int(self.attempts))
        if isinstance(self.timeout, list):
            object.__setattr__(self, "timeout", tuple(self.timeout))

    def wait(self, failures: int, retry_after: Optional[float] = None) -> float:
        """Seconds to wait after the ``failures``-th failure in a row (1 = the first)."""
        if retry_after is not None:
            return min(max(0.0, retry_after), MAX_RETRY_AFTER)
        bound = min(self.max_backoff, self.backoff * 2 ** max(0, failures - 1))
        return random.uniform(0.0, bound)

    def sleep(self, failures: int, retry_after: Optional[float] = None) -> None:
        delay = self.wait(failures, retry_after)
        if delay > 0:
            time.sleep(delay)


DEFAULT = RetryPolicy()


def retry_after(headers) -> Optional[float]:
    """Seconds a ``Retry-After`` header asks for (None: absent or unreadable)."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def check(policy: Any) -> Optional[RetryPolicy]:
    """``policy`` when it is a RetryPolicy or None (a dataset's ``retry`` argument)."""
    if policy is not None and not isinstance(policy, RetryPolicy):
        raise TypeError(f"retry must be a RetryPolicy or None, not {type(policy).__name__}")
    return policy


_resolved: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CLIENT_RETRIES = RetryPolicy(client_retries=True)


def resolve(policy: Optional[RetryPolicy], client: Any = None) -> RetryPolicy:
    """The policy in effect: ``policy``, or for None the default described in the module
    docstring (the client's own retries when it has a ``retry_config`` of its own).
    The answer for a client is remembered for as long as the client lives."""
    if policy is not None:
        return check(policy)
    try:
        return _resolved[client]
    except (KeyError, TypeError):
        pass
    config = retry_config_of(client)
    found = DEFAULT if config is None or is_sdk_default(config) else _CLIENT_RETRIES
    try:
        _resolved[client] = found
    except TypeError:  # not weakly referenceable
        pass
    return found


def is_sdk_default(config: Any) -> bool:
    """Whether an SDK ``RetryConfig`` is (equal to) ``RetryConfig.default()``."""
    try:
        from aistore.sdk.retry_config import RetryConfig

        default = RetryConfig.default()
        mine, theirs = config.http_retry, default.http_retry
        for attr in ("total", "connect", "read", "status", "other", "backoff_factor",
                     "backoff_max", "respect_retry_after_header", "raise_on_status"):
            if getattr(mine, attr, None) != getattr(theirs, attr, None):
                return False
        if set(mine.status_forcelist or ()) != set(theirs.status_forcelist or ()):
            return False
        net, dnet = config.network_retry, default.network_retry
        return _same(net.stop, dnet.stop) and _same(net.wait, dnet.wait)
    except Exception:  # noqa: BLE001 - anything unexpected: treat it as the user's own
        return False


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and getattr(a, "__dict__", None) == getattr(b, "__dict__", None)


def retrying(policy: RetryPolicy, send: Callable[[], Any]) -> Any:
    """``send()`` (a ``requests`` call returning a response) under ``policy``.

    Retries ``REQUEST_ERRORS`` and ``TRANSIENT_STATUSES``; the last response (whatever
    its status) or the last error comes back after ``policy.attempts`` tries.
    """
    failures = 0
    while True:
        try:
            resp = send()
        except REQUEST_ERRORS:
            failures += 1
            if failures >= policy.attempts:
                raise
            policy.sleep(failures)
            continue
        status = getattr(resp, "status_code", 200)
        if status in TRANSIENT_STATUSES and failures + 1 < policy.attempts:
            failures += 1
            wait = retry_after(getattr(resp, "headers", None))
            resp.close()
            policy.sleep(failures, wait)
            continue
        return resp
