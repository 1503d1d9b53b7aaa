"""``archregx`` patterns in linear time: RE2, the engine (and syntax) of AIS's Go regexp.

A backtracking engine lets one request pin the server: ``^(a+)+$`` against 28 ``a`` and
a ``!`` takes seconds, and each further character doubles it. Patterns are compiled with
``google-re2`` (a dependency), whose matching is linear in the name's length and which
refuses what Go refuses too (backreferences, lookaround).

Where ``google-re2`` cannot be imported, Python's ``re`` is used behind a check that
refuses (ValueError, a 400) every pattern that could backtrack badly: RE2-only
constructs, a repetition inside a repetition (``(a+)+``, ``(a|ab)*``), and more than one
unbounded repetition (``.*a.*b``). Deviation: in that mode some patterns AIS accepts are
refused.

    match = compile_archregx(r"\\.jpg$")
    match("a/0001.jpg")           # True
"""

from __future__ import annotations

import re
from collections.abc import Callable

try:  # pragma: no cover - which branch runs depends on the installation
    import re2 as _re2
except ImportError:  # pragma: no cover
    _re2 = None

try:  # Python 3.11+
    from re import _constants as _sre_c
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_c  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

ENGINE = "re2" if _re2 is not None else "re (guarded)"
MAX_PATTERN = 4096  # characters of one pattern

_REPEATS = {_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT}
_REFUSED = {_sre_c.GROUPREF, _sre_c.GROUPREF_EXISTS, _sre_c.ASSERT, _sre_c.ASSERT_NOT}
for _name in ("GROUPREF_IGNORE", "GROUPREF_LOC_IGNORE", "GROUPREF_UNI_IGNORE", "ATOMIC_GROUP",
              "POSSESSIVE_REPEAT"):
    if hasattr(_sre_c, _name):
        _REFUSED.add(getattr(_sre_c, _name))


def compile_archregx(pattern: str, engine: str = ENGINE) -> Callable[[str], bool]:
    """A predicate ``name -> bool`` (``search`` semantics, as Go's ``MatchString``);
    ValueError names what is wrong with ``pattern``."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"invalid archregx: longer than {MAX_PATTERN} characters")
    if engine == "re2":
        return _compile_re2(pattern)
    return _compile_guarded(pattern)


def _compile_re2(pattern: str) -> Callable[[str], bool]:
    options = _re2.Options()
    options.log_errors = False
    try:
        rx = _re2.compile(pattern, options)
    except Exception as e:  # re2.error: its message is bytes
        why = e.args[0] if e.args else e
        why = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
        raise ValueError(f"invalid archregx {pattern!r}: {why}") from None
    raw = []

    def match(name: str) -> bool:
        try:
            return rx.search(name) is not None
        except UnicodeEncodeError:  # a name with undecodable bytes: match the bytes
            if not raw:
                raw.append(_re2.compile(pattern.encode("utf-8", "surrogateescape"), options))
            return raw[0].search(name.encode("utf-8", "surrogateescape")) is not None

    return match


def _compile_guarded(pattern: str) -> Callable[[str], bool]:
    try:
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as e:
        raise ValueError(f"invalid archregx {pattern!r}: {e}") from None
    unbounded = _check(parsed, pattern, inside_repeat=False)
    if unbounded > 1:
        raise ValueError(f"archregx {pattern!r} refused: more than one unbounded repetition "
                         "(install google-re2 for linear-time matching)")
    rx = re.compile(pattern)
    return lambda name: rx.search(name) is not None


def _check(items, pattern: str, inside_repeat: bool) -> int:
    """Refuse unsafe constructs under ``items``; return the number of unbounded repeats."""
    unbounded = 0
    for op, av in items:
        if op in _REFUSED:
            raise ValueError(f"invalid archregx {pattern!r}: backreferences, lookaround and "
                             "atomic groups are not RE2 syntax")
        if op in _REPEATS:
            lo, hi, body = av
            if hi > 1 and inside_repeat:
                raise ValueError(f"archregx {pattern!r} refused: a repetition inside a "
                                 "repetition can take exponential time (install google-re2)")
            if hi == _sre_c.MAXREPEAT:
                unbounded += 1
            unbounded += _check(body, pattern, inside_repeat or hi > 1)
        elif op == _sre_c.SUBPATTERN:
            unbounded += _check(av[-1], pattern, inside_repeat)
        elif op == _sre_c.BRANCH:
            if inside_repeat:
                raise ValueError(f"archregx {pattern!r} refused: an alternation inside a "
                                 "repetition can take exponential time (install google-re2)")
            unbounded += max((_check(b, pattern, inside_repeat) for b in av[1]), default=0)
    return unbounded
