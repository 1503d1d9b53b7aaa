"""Object selection for multi-object operations: name lists and AIS range templates.

A multi-object request (delete, copy, archive, transform, evict, prefetch) carries either
``{"objnames": [...]}`` or ``{"template": "<string>"}``. ``select_objects`` turns that
into object names, following AIS's template grammar (``cos.NewParsedTemplate``):

* ``""`` or ``"*"``: every object in the bucket.
* bash ranges ``pre{0001..0100..2}gap{1..3}suf``: inclusive, several allowed; the digit
  width is the shorter of the start/end spellings (``{1..100}`` is unpadded,
  ``{001..100}`` pads to 3); start <= end, start >= 0, step > 0 (else InvalidTemplate).
  ``{a,b}`` lists are not AIS syntax (they are rejected as invalid bash templates).
* at ranges ``pre-@00100-suf``: 0..100 padded to the number's width; several allowed.
* printf ranges ``pre-%06d-suf`` (one ``%`` only): 0..max, padded to the given width.
* anything else: a plain prefix (a trailing ``*`` is dropped), matched against the
  bucket's objects.

    select_objects(store, bck, {"template": "img-{00..02}.jpg"})
    # -> ["img-00.jpg", "img-01.jpg", "img-02.jpg"]

Range templates expand to names whether or not those objects exist (as AIS iterates
them), lazily (``TemplateNames``); callers decide what a missing name means (``Selection.ranged`` tells a range from a
list, since AIS treats missing names differently in the two). Deviation: a printf
template is open-ended in AIS (0..2^63-2); here it selects the existing objects whose
names fit the pattern, in name order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

from ais_emulator.limits import MAX_TEMPLATE_NAMES
from ais_emulator.store.errors import InvalidRequest

MAX_EXPANSION = MAX_TEMPLATE_NAMES  # AIS's cap on a template's expansion
MAX_RANGES = 64  # ranges in one template


class InvalidTemplate(InvalidRequest):
    """A malformed range template (AIS answers 400)."""

    def __init__(self, template: str, reason: str):
        super().__init__(f"invalid template {template!r}: {reason}", template=template)


@dataclass
class TemplateRange:
    start: int
    end: int
    step: int
    width: int
    gap: str  # the text after the range, up to the next range or the end


@dataclass
class ParsedTemplate:
    """A template: ``prefix`` then each range followed by its gap; no ranges = prefix."""

    prefix: str = ""
    ranges: list = field(default_factory=list)
    open_ended: bool = False  # printf style
    text: str = ""  # the template as given

    @property
    def is_range(self) -> bool:
        return bool(self.ranges)

    def count(self) -> int:
        n = 1
        for r in self.ranges:
            n *= (r.end - r.start) // r.step + 1
        return n

    def expand(self) -> Iterator[str]:
        """Every name, lazily, last range varying fastest (the AIS iteration order); a
        template of more than ``MAX_EXPANSION`` names is an InvalidTemplate."""
        if not self.ranges:
            return iter([self.prefix])
        if self.open_ended:
            raise InvalidRequest("an open-ended (printf) template cannot be expanded")
        if self.count() > MAX_EXPANSION:
            raise InvalidTemplate(self.text, f"too large to expand ({self.count()} names, "
                                             f"at most {MAX_EXPANSION})")
        return self._odometer()

    def _odometer(self) -> Iterator[str]:
        ranges = self.ranges
        sizes = [(r.end - r.start) // r.step + 1 for r in ranges]
        idx = [0] * len(ranges)
        parts = [self._part(r, 0) for r in ranges]
        while True:
            yield self.prefix + "".join(parts)
            i = len(ranges) - 1
            while i >= 0:
                idx[i] += 1
                if idx[i] < sizes[i]:
                    parts[i] = self._part(ranges[i], idx[i])
                    break
                idx[i] = 0
                parts[i] = self._part(ranges[i], 0)
                i -= 1
            if i < 0:
                return

    @staticmethod
    def _part(r: TemplateRange, i: int) -> str:
        return f"{r.start + i * r.step:0{r.width}d}{r.gap}"

    @cached_property
    def _pattern(self) -> re.Pattern:
        pattern = re.escape(self.prefix)
        for r in self.ranges:
            pattern += r"([0-9]+)" + re.escape(r.gap)
        return re.compile(pattern)

    def position(self, name: str) -> Optional[tuple]:
        """The index of ``name`` along each range (its place in the expansion order), or
        None when ``name`` is not one of the template's names."""
        m = self._pattern.fullmatch(name)
        if m is None:
            return None
        out = []
        for digits, r in zip(m.groups(), self.ranges, strict=True):
            if len(digits) > 19:
                return None
            value = int(digits)
            if f"{value:0{r.width}d}" != digits:
                return None
            if not (r.start <= value <= r.end and (value - r.start) % r.step == 0):
                return None
            out.append((value - r.start) // r.step)
        return tuple(out)

    def matches(self, name: str) -> bool:
        """Whether ``name`` is one of the template's names (used for printf templates)."""
        return self.position(name) is not None


class TemplateNames:
    """The names of a range template as a lazy, re-iterable sequence (``len`` is their
    count): a 10-million-name template costs nothing until iterated."""

    def __init__(self, pt: ParsedTemplate):
        self.template = pt
        self._count = pt.count()
        if self._count > MAX_EXPANSION:
            raise InvalidTemplate(pt.text, f"too large to expand ({self._count} names, at "
                                           f"most {MAX_EXPANSION})")

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return self.template.expand()


def _check(kind: str, template: str, start: int, end: int, step: int) -> None:
    if start > end:
        raise InvalidTemplate(template, f"{kind}: 'start' cannot be greater than 'end'")
    if start < 0:
        raise InvalidTemplate(template, f"{kind}: 'start' is negative")
    if step <= 0:
        raise InvalidTemplate(template, f"{kind}: 'step' is non-positive")


def _int(template: str, text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]{1,19}", text):
        raise InvalidTemplate(template, f"bash: {text[:32]!r} is not an integer")
    return int(text)


def _parse_bash(template: str) -> Optional[ParsedTemplate]:
    left, right = template.find("{"), template.rfind("}")
    if left < 0 or right < 0:
        return None
    if right < left:
        raise InvalidTemplate(template, "bash: '}' before '{'")
    pt = ParsedTemplate(prefix=template[:left])
    rest = template
    while (left := rest.find("{")) >= 0:
        right = rest.find("}")
        if right < left:
            raise InvalidTemplate(template, "bash: unbalanced braces")
        parts = rest[left + 1:right].split("..")
        if len(parts) not in (2, 3):
            raise InvalidTemplate(template, "bash: expecting {start..end[..step]}")
        start, end = _int(template, parts[0]), _int(template, parts[1])
        step = _int(template, parts[2]) if len(parts) == 3 else 1
        _check("bash", template, start, end, step)
        rest = rest[right + 1:]
        nxt = rest.find("{")
        gap = rest[:nxt] if nxt >= 0 else rest
        pt.ranges.append(TemplateRange(start, end, step, min(len(parts[0]), len(parts[1])), gap))
        if len(pt.ranges) > MAX_RANGES:
            raise InvalidTemplate(template, f"bash: more than {MAX_RANGES} ranges")
    return pt


def _parse_at(template: str) -> Optional[ParsedTemplate]:
    if "@" not in template:
        return None
    pt = ParsedTemplate(prefix=template[:template.index("@")])
    rest = template
    while (at := rest.find("@")) >= 0:
        m = re.match(r"[0-9]*", rest[at + 1:])
        number = m.group(0)
        if not number:
            raise InvalidTemplate(template, "at: expecting digits after '@'")
        if len(number) > 19:
            raise InvalidTemplate(template, "at: number too large")
        end = int(number)
        _check("at", template, 0, end, 1)
        rest = rest[at + 1 + len(number):]
        nxt = rest.find("@")
        gap = rest[:nxt] if nxt >= 0 else rest
        pt.ranges.append(TemplateRange(0, end, 1, len(number), gap))
        if len(pt.ranges) > MAX_RANGES:
            raise InvalidTemplate(template, f"at: more than {MAX_RANGES} ranges")
    return pt


def _parse_fmt(template: str) -> Optional[ParsedTemplate]:
    percent = template.find("%")
    if percent < 0 or "%" in template[percent + 1:]:
        return None
    d = template.find("d", percent)
    if d < 0:
        raise InvalidTemplate(template, "fmt: expecting e.g. 'prefix-%06d-suffix'")
    spec = template[percent + 1:d]
    width = 0
    if spec:
        if len(spec) == 1 or spec[0] != "0" or not spec[1:].isdigit():
            raise InvalidTemplate(template, "fmt: expecting e.g. 'prefix-%06d-suffix'")
        width = int(spec[1:])
        if width > 64:
            raise InvalidTemplate(template, "fmt: width too large")
    rng = TemplateRange(0, 2**63 - 2, 1, width, template[d + 1:])
    return ParsedTemplate(prefix=template[:percent], ranges=[rng], open_ended=True)


def parse_template(template: str) -> ParsedTemplate:
    """Parse an AIS template; ``""``/``"*"`` give an empty prefix (the whole bucket)."""
    if template in ("", "*"):
        return ParsedTemplate(text=template)
    for parser in (_parse_bash, _parse_at, _parse_fmt):
        pt = parser(template)
        if pt is not None:
            pt.text = template
            return pt
    return ParsedTemplate(prefix=template[:-1] if template.endswith("*") else template,
                          text=template)


@dataclass
class Selection:
    names: Iterable  # a list, or TemplateNames (lazy; len() is the count)
    ranged: bool  # a range template (missing names are skipped silently by AIS)
    listed: bool  # an explicit name list (missing names are errors unless "coer")


def selection(store, bck, value: dict) -> Selection:
    """The objects a multi-object request selects (see the module docstring). A range
    template is iterated lazily; when it names more objects than a local bucket holds,
    the bucket's matching objects are taken instead, in template order (the same names
    AIS would act on, since missing ones are skipped), so the cost follows the smaller."""
    value = value or {}
    names = value.get("objnames")
    if names:
        return Selection(list(names), ranged=False, listed=True)
    pt = parse_template(value.get("template") or "")
    if not pt.is_range:
        return Selection(store.object_names(bck, pt.prefix), ranged=False, listed=False)
    if pt.open_ended:
        found = [n for n in store.object_names(bck, pt.prefix) if pt.matches(n)]
        return Selection(found, ranged=True, listed=False)
    lazy = TemplateNames(pt)
    if _local(store, bck):
        existing = store.object_names(bck, pt.prefix)
        if len(existing) < len(lazy):
            keyed = [(pos, n) for n in existing if (pos := pt.position(n)) is not None]
            return Selection([n for _, n in sorted(keyed)], ranged=True, listed=False)
    return Selection(lazy, ranged=True, listed=False)


def _local(store, bck) -> bool:
    """Whether every object of ``bck`` is in ``store`` (no remote backend behind it)."""
    backend = getattr(store, "backend", None)
    return backend is None or backend(bck) is None


def select_objects(store, bck, value: dict) -> list[str]:
    """Names selected by ``value`` (``objnames`` or ``template``), in request order.

    Prefix selections list existing objects (sorted); range templates expand fully.
    """
    return list(selection(store, bck, value).names)
