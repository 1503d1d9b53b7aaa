"""Fault rules: what the emulator does wrong on purpose, to which requests, and how often.

Control-plane state beside the store, reachable as ``emu.faults``. A rule names a fault
*kind*, which requests it *matches* (method, operation, bucket and object-name globs)
and when a match *fires* (a probability, the first N matches, every Nth match, from a
seed). The API layer asks :meth:`FaultSet.pick` once per request; what a fault does on
the wire is the transports' business (see ``ais_emulator.api.faulting`` and
``ais_emulator.transports.faultexec``)::

    emu.faults.add("503", op="get", probability=0.05, seed=1)      # AIS-shaped 503s
    emu.faults.add("reset after=4096 p=0.02")                       # the same, as one line
    with emu.faults.inject("stall", first=1, bucket="train*"):      # removed on exit
        ...
    rule = emu.faults.rules()[0]; rule.matched, rule.fired

Kinds (parameters in brackets):

* ``status`` [``status`` 429|500|502|503|504, ``retry_after`` seconds]: an AIS error reply
  instead of the real one; ``"429"`` ... ``"504"`` are shorthands. 429 and 503 carry
  ``Retry-After: 1`` unless ``retry_after`` says otherwise (``none``: no header).
* ``latency`` [``delay`` s]: the reply is held back that long, then sent normally.
* ``slow`` [``rate`` bytes/s]: the body is sent no faster than ``rate``.
* ``reset`` [``after`` bytes]: the connection is reset (TCP RST) before the headers, or
  after ``after`` bytes of the body (``after=random``: at a seeded position in the body).
* ``truncate`` [``after`` bytes]: the body ends early (default: at a seeded position)
  while the
  Content-Length announced the whole, then the connection is closed.
* ``stall`` [``after`` bytes, ``delay`` s]: nothing more is sent (before the headers, or
  after ``after`` body bytes) until the client gives up or ``delay`` passes (default 30).
* ``corrupt`` [``at`` byte]: one byte of the body is flipped (by default at a seeded
  position), Content-Length and checksum headers unchanged.

Operations (``op``): ``get``, ``head``, ``put``, ``delete`` (objects), ``object`` (any
object request), ``list`` (list objects), ``batch`` (GetBatch), ``bucket`` (other
bucket requests), ``cluster`` (health, smap, jobs, ETL, ...), ``any`` (default), or
several joined by ``|`` (``op=get|batch``). ``bucket`` matches the bucket the URL names
(for a GetBatch without one, its first item's); ``object`` matches object requests
only. The emulator's own control routes (``/v1/__emulator__/...``) are never faulted.

Order and determinism. Rules are consulted in the order they were added; each one whose
filters match counts the request (``matched``). ``latency`` and ``slow`` rules that fire
add to the reply and the next rules are consulted; the first rule of another kind that
fires decides the fault and ends the search. ``first`` and ``every`` count matches in
arrival order; a ``probability`` draw depends only on (seed, rule, method, path, query,
Range header, and how many times the rule has seen that same request before), so
concurrent clients get the same faults on the same requests whatever their
interleaving, and a retried request draws afresh.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import xxhash

KINDS = ("status", "latency", "slow", "reset", "truncate", "stall", "corrupt")
STATUSES = (429, 500, 502, 503, 504)
OPS = ("any", "get", "head", "put", "delete", "object", "list", "batch", "bucket", "cluster")
OBJECT_OPS = ("get", "head", "put", "delete", "object")
DEFAULT_STALL = 30.0
NO_RETRY_AFTER = -1  # retry_after=none: a 429/503 without the header
AFTER_RANDOM = -1  # after=random: a seeded position in the body
_KEYS_KEPT = 1 << 16  # per rule: requests remembered for "seen before" counts


class FaultSpecError(ValueError):
    """A fault rule that cannot be built (unknown kind, key or value): says which."""


@dataclass(frozen=True)
class Fault:
    """What one request gets: a terminal fault (``kind``) and/or modifiers."""

    kind: Optional[str] = None  # status | reset | truncate | stall | corrupt | None
    status: int = 0
    retry_after: Optional[int] = None
    after: Optional[int] = None  # body bytes sent before a reset/truncate/stall
    at: Optional[int] = None  # corrupt: byte position (None: ``draw`` decides)
    delay: float = 0.0  # latency before the reply
    stall: float = DEFAULT_STALL  # stall: the longest the emulator stays silent
    rate: Optional[float] = None  # slow: bytes per second
    draw: float = 0.0  # a seeded number in [0, 1) for positions
    rule_id: int = 0

    @property
    def before_headers(self) -> bool:
        """A reset or stall that happens before any byte of the reply is sent."""
        return self.kind in ("reset", "stall") and self.after is None


@dataclass
class Rule:
    """One fault rule and its counters (see the module docstring for the fields)."""

    kind: str
    op: str = "any"
    method: Optional[str] = None
    bucket: Optional[str] = None
    object: Optional[str] = None
    probability: float = 1.0
    first: Optional[int] = None
    every: Optional[int] = None
    seed: int = 0
    status: Optional[int] = None
    retry_after: Optional[int] = None
    after: Optional[int] = None
    at: Optional[int] = None
    delay: Optional[float] = None
    rate: Optional[float] = None
    id: int = 0
    matched: int = 0
    fired: int = 0
    _seen: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)
    _salt: str = field(default="", repr=False, compare=False)
    _ops: frozenset = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        kind = str(self.kind).strip().lower()
        if kind.isdigit():
            if self.status is not None and self.status != int(kind):
                raise FaultSpecError(f"fault {kind!r} with status={self.status}")
            self.status, kind = int(kind), "status"
        if kind not in KINDS:
            raise FaultSpecError(f"unknown fault kind {self.kind!r}; expecting one of "
                                 f"{', '.join(KINDS)} or a status code {STATUSES}")
        self.kind = kind
        self._numbers()
        self.op = str(self.op or "any").lower()
        for op in self.op.split("|"):
            if op not in OPS:
                raise FaultSpecError(f"unknown op {op!r}; expecting one of {', '.join(OPS)} "
                                     f"(or several joined by '|')")
        self._ops = frozenset(self.op.split("|"))
        if self.method is not None:
            self.method = str(self.method).upper()
        if not 0.0 <= self.probability <= 1.0:
            raise FaultSpecError(f"probability must be within [0, 1], not {self.probability}")
        if kind == "truncate" and self.after is None:
            self.after = AFTER_RANDOM
        for name in ("first", "after", "at", "retry_after"):
            value = getattr(self, name)
            if value is not None and value < 0 and not (
                    (name == "retry_after" and value == NO_RETRY_AFTER)
                    or (name == "after" and value == AFTER_RANDOM)):
                raise FaultSpecError(f"{name} must not be negative, not {value}")
        if self.every is not None and self.every < 1:
            raise FaultSpecError(f"every must be at least 1, not {self.every}")
        if kind == "status":
            self.status = 503 if self.status is None else self.status
            if self.status not in STATUSES:
                raise FaultSpecError(f"status must be one of {STATUSES}, not {self.status}")
            if self.retry_after is None and self.status in (429, 503):
                self.retry_after = 1
        elif self.status is not None:
            raise FaultSpecError(f"status= applies to status faults, not {kind!r}")
        if kind == "slow" and not (self.rate is not None and self.rate > 0):
            raise FaultSpecError("a slow fault needs rate=<bytes per second> above 0")
        if kind == "latency" and self.delay is None:
            raise FaultSpecError("a latency fault needs delay=<seconds>")
        if self.delay is not None and self.delay < 0:
            raise FaultSpecError(f"delay must not be negative, not {self.delay}")
        # draws depend on what the rule says, not on when it was added
        self._salt = str(self)

    def _numbers(self) -> None:
        """Numeric fields as numbers (they may come from JSON or a spec as text)."""
        if isinstance(self.retry_after, str) and self.retry_after.strip().lower() == "none":
            self.retry_after = NO_RETRY_AFTER
        if isinstance(self.after, str) and self.after.strip().lower() == "random":
            self.after = AFTER_RANDOM
        for name in ("first", "every", "seed", "status", "retry_after", "after", "at"):
            value = getattr(self, name)
            if value is not None:
                try:
                    setattr(self, name, int(value))
                except (TypeError, ValueError):
                    raise FaultSpecError(f"{name} must be a whole number, not {value!r}") from None
        for name in ("probability", "delay", "rate"):
            value = getattr(self, name)
            if value is not None:
                try:
                    setattr(self, name, float(value))
                except (TypeError, ValueError):
                    raise FaultSpecError(f"{name} must be a number, not {value!r}") from None

    # -- matching -------------------------------------------------------------------------

    def matches(self, method: str, op: str, bucket: Optional[str], obj: Optional[str]) -> bool:
        if self.method is not None and self.method != method:
            return False
        ops = self._ops
        if "any" not in ops and op not in ops and not ("object" in ops and op in OBJECT_OPS):
            return False
        if self.bucket is not None and (bucket is None
                                        or not fnmatch.fnmatchcase(bucket, self.bucket)):
            return False
        if self.object is not None and (obj is None or not fnmatch.fnmatchcase(obj, self.object)):
            return False
        return True

    def _fires(self, key: str) -> tuple[bool, float]:
        """Count a match; whether it fires, and a seeded number in [0, 1) for positions."""
        self.matched += 1
        n = self.matched
        seen = self._seen.get(key, 0)
        self._seen[key] = seen + 1
        self._seen.move_to_end(key)
        if len(self._seen) > _KEYS_KEPT:
            self._seen.popitem(last=False)
        digest = xxhash.xxh128_intdigest(
            f"{self._salt}\x00{key}\x00{seen}".encode("utf-8", "surrogatepass"))
        u = (digest >> 64) / 2.0 ** 64
        draw = (digest & 0xFFFFFFFFFFFFFFFF) / 2.0 ** 64
        fires = (self.first is None or n <= self.first) and \
            (self.every is None or n % self.every == 0) and u < self.probability
        if fires:
            self.fired += 1
        return fires, draw

    def as_dict(self) -> dict[str, Any]:
        """The rule's settings and counters (what the REST route answers)."""
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "op": self.op}
        for name in ("method", "bucket", "object", "status", "retry_after", "after", "at",
                     "delay", "rate", "first", "every"):
            value = getattr(self, name)
            if value is not None:
                if name == "retry_after" and value == NO_RETRY_AFTER:
                    value = "none"
                elif name == "after" and value == AFTER_RANDOM:
                    value = "random"
                out[name] = value
        out.update(probability=self.probability, seed=self.seed, matched=self.matched,
                   fired=self.fired)
        return out

    def __str__(self) -> str:
        parts = [self.kind if self.kind != "status" else str(self.status)]
        for name, value in self.as_dict().items():
            if name not in ("id", "kind", "matched", "fired", "status") and \
                    not (name == "op" and value == "any") and \
                    not (name == "probability" and value == 1.0) and \
                    not (name == "seed" and value == 0):
                parts.append(f"{name}={value}")
        return " ".join(parts)


_ALIASES = {"p": "probability", "prob": "probability", "obj": "object", "name": "object",
            "retry-after": "retry_after", "code": "status", "bytes": "after"}
_INTS = ("first", "every", "seed", "status", "after", "at")
_FLOATS = ("probability", "delay", "rate")
_FIELDS = {"op", "method", "bucket", "object", "probability", "first", "every", "seed",
           "status", "retry_after", "after", "at", "delay", "rate"}


def parse_spec(spec: str) -> dict[str, Any]:
    """The keyword arguments of a one-line rule: ``KIND [key=value ...]``.

    Tokens are separated by spaces or commas, e.g. ``"503 p=0.05 op=get"`` or
    ``"reset,after=4096,probability=0.02,bucket=train*"``; ``p`` is short for
    ``probability``. ``retry_after=none`` drops the Retry-After header.
    """
    tokens = [t for t in spec.replace(",", " ").split() if t]
    if not tokens:
        raise FaultSpecError("empty fault spec; expecting e.g. '503 p=0.05 op=get'")
    kwargs: dict[str, Any] = {"kind": tokens[0]}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        key = _ALIASES.get(key.strip().lower(), key.strip().lower())
        if not sep or key not in _FIELDS:
            raise FaultSpecError(f"fault spec {spec!r}: cannot use {token!r}; expecting "
                                 f"key=value with a key among {', '.join(sorted(_FIELDS))}")
        kwargs[key] = _convert(spec, key, value.strip())
    return kwargs


def _convert(spec: str, key: str, value: str) -> Any:
    try:
        if key == "retry_after":
            return NO_RETRY_AFTER if value.lower() in ("none", "") else int(value)
        if key == "after" and value.lower() == "random":
            return AFTER_RANDOM
        if key in _INTS:
            return int(value)
        if key in _FLOATS:
            return float(value)
    except ValueError:
        raise FaultSpecError(f"fault spec {spec!r}: {key}={value!r} is not a number") from None
    return value


class FaultSet:
    """The emulator's fault rules. Thread-safe; all methods may be called at any time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)

    @property
    def active(self) -> bool:
        """Whether any rule is installed (the API layer's fast path)."""
        return bool(self._rules)

    def add(self, kind: Union[str, Rule], **kwargs) -> Rule:
        """Install a rule and return it. ``kind`` is a kind, a status code, a whole
        one-line spec (``"reset after=100 p=0.1"``), or a ready :class:`Rule`."""
        if isinstance(kind, Rule):
            rule = kind
        else:
            spec = str(kind)
            if " " in spec.strip() or "," in spec or "=" in spec:
                merged = parse_spec(spec)
                merged.update(kwargs)
                kwargs = merged
            else:
                kwargs = {"kind": spec, **kwargs}
            kwargs = {_ALIASES.get(k, k): v for k, v in kwargs.items()}
            unknown = set(kwargs) - _FIELDS - {"kind"}
            if unknown:
                raise FaultSpecError(f"unknown fault rule field(s) {sorted(unknown)}; "
                                     f"expecting {', '.join(sorted(_FIELDS))}")
            rule = Rule(**kwargs)
        with self._lock:
            rule.id = next(self._ids)
            self._rules.append(rule)
        return rule

    def remove(self, rule: Union[Rule, int]) -> bool:
        """Remove a rule (or the rule with that id); False when it was not installed."""
        rule_id = rule if isinstance(rule, int) else rule.id
        with self._lock:
            for i, r in enumerate(self._rules):
                if r.id == rule_id:
                    del self._rules[i]
                    return True
        return False

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def rules(self) -> list[Rule]:
        """The installed rules, in the order they are consulted."""
        with self._lock:
            return list(self._rules)

    def get(self, rule_id: int) -> Optional[Rule]:
        with self._lock:
            return next((r for r in self._rules if r.id == rule_id), None)

    def stats(self) -> list[dict[str, Any]]:
        """Every rule as a dict with its ``matched`` and ``fired`` counters."""
        with self._lock:
            return [r.as_dict() for r in self._rules]

    @contextmanager
    def inject(self, kind: Union[str, Rule], **kwargs) -> Iterator[Rule]:
        """``add`` for the duration of a ``with`` block; the rule is removed on exit."""
        rule = self.add(kind, **kwargs)
        try:
            yield rule
        finally:
            self.remove(rule)

    def pick(self, method: str, op: str, bucket: Optional[str], obj: Optional[str],
             key: str) -> Optional[Fault]:
        """The fault for one request (None: serve it normally); counts matches."""
        if not self._rules:
            return None
        delay, rate = 0.0, None
        chosen: Optional[Fault] = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, op, bucket, obj):
                    continue
                fires, draw = rule._fires(key)
                if not fires:
                    continue
                if rule.kind == "latency":
                    delay += rule.delay or 0.0
                    continue
                if rule.kind == "slow":
                    rate = rule.rate if rate is None else min(rate, rule.rate)
                    continue
                chosen = Fault(rule.kind, status=rule.status or 0,
                               retry_after=rule.retry_after, after=rule.after, at=rule.at,
                               stall=DEFAULT_STALL if rule.delay is None else rule.delay,
                               draw=draw, rule_id=rule.id)
                break
        if chosen is None and not delay and rate is None:
            return None
        base = chosen or Fault()
        return Fault(base.kind, status=base.status, retry_after=base.retry_after,
                     after=base.after, at=base.at, delay=delay, stall=base.stall, rate=rate,
                     draw=base.draw, rule_id=base.rule_id)

    def __repr__(self) -> str:
        return f"FaultSet({[str(r) for r in self.rules()]})"
