"""Emulator-only: the fault rules over REST (``emu.faults``, see ``ais_emulator.faults``).

    GET    /v1/__emulator__/faults          {"rules": [rule, ...]} with matched/fired
    GET    /v1/__emulator__/faults/<id>     one rule
    POST   /v1/__emulator__/faults          add: a rule object, {"spec": "503 p=0.05"},
                                            or a list of them; answers {"rules": [...]}
    DELETE /v1/__emulator__/faults          remove every rule
    DELETE /v1/__emulator__/faults/<id>     remove one rule (404 if there is none)

A rule object holds the keyword arguments of ``emu.faults.add`` (``kind``, ``op``,
``bucket``, ``probability``, ``after``, ...). A rule that cannot be built is a 400 that
names the bad field; a POST adds all of its rules or none. These routes are never
faulted themselves. From a shell::

    curl -X POST localhost:51080/v1/__emulator__/faults -d '{"spec": "reset after=4096 p=0.02"}'
"""

from __future__ import annotations

from ais_emulator.api.errors import ApiError
from ais_emulator.api.routes import route
from ais_emulator.api.types import Request, Response
from ais_emulator.api.wire import json_reply, parse_json
from ais_emulator.faults import FaultSpecError, Rule, parse_spec

_MAX_RULES = 256  # per request


def _rule_id(text: str) -> int:
    try:
        rule_id = int(text)
    except ValueError:
        raise ApiError(400, f"invalid fault rule id {text!r}: expecting a number") from None
    return rule_id


def _build(doc) -> Rule:
    if isinstance(doc, str):
        doc = {"spec": doc}
    if not isinstance(doc, dict):
        raise ApiError(400, "invalid fault rule: expecting a JSON object such as "
                            '{"kind": "reset", "probability": 0.1} or {"spec": "503 p=0.05"}')
    kwargs = dict(doc)
    spec = kwargs.pop("spec", None)
    try:
        if spec is not None:
            if not isinstance(spec, str):
                raise FaultSpecError("spec must be a string such as '503 p=0.05 op=get'")
            merged = parse_spec(spec)
            merged.update(kwargs)
            kwargs = merged
        if "kind" not in kwargs:
            raise FaultSpecError("a fault rule needs a kind (or a spec)")
        for key in ("id", "matched", "fired"):
            kwargs.pop(key, None)
        allowed = {f for f in Rule.__dataclass_fields__ if not f.startswith("_")} - {
            "id", "matched", "fired"}
        unknown = sorted(set(kwargs) - allowed)
        if unknown:
            raise FaultSpecError(f"unknown fault rule field(s) {unknown}; expecting "
                                 f"{', '.join(sorted(allowed))}")
        return Rule(**kwargs)
    except (FaultSpecError, TypeError, ValueError) as err:
        raise ApiError(400, f"invalid fault rule: {err}") from None


@route("GET", "/v1/__emulator__/faults")
def list_faults(emu, req: Request) -> Response:
    """Emulator-only: every fault rule with its matched/fired counters."""
    return json_reply({"rules": emu.faults.stats()})


@route("GET", "/v1/__emulator__/faults/{rule_id}")
def get_fault(emu, req: Request, rule_id: str) -> Response:
    """Emulator-only: one fault rule with its counters (404 if there is none)."""
    rule = emu.faults.get(_rule_id(rule_id))
    if rule is None:
        raise ApiError(404, f"fault rule {rule_id} does not exist")
    return json_reply(rule.as_dict())


@route("POST", "/v1/__emulator__/faults")
def add_faults(emu, req: Request) -> Response:
    """Emulator-only: add fault rules (a rule, a spec, or a list; all or none)."""
    doc = parse_json(req.body, "fault rule")
    docs = doc if isinstance(doc, list) else [doc]
    if doc is None or not docs:
        raise ApiError(400, "invalid fault rule: empty request body")
    if len(docs) > _MAX_RULES:
        raise ApiError(400, f"too many fault rules in one request ({len(docs)} > {_MAX_RULES})")
    rules = [_build(d) for d in docs]  # all or nothing
    return json_reply({"rules": [emu.faults.add(rule).as_dict() for rule in rules]})


@route("DELETE", "/v1/__emulator__/faults")
def clear_faults(emu, req: Request) -> Response:
    """Emulator-only: remove every fault rule."""
    emu.faults.clear()
    return Response(200, {}, b"")


@route("DELETE", "/v1/__emulator__/faults/{rule_id}")
def remove_fault(emu, req: Request, rule_id: str) -> Response:
    """Emulator-only: remove one fault rule (404 if there is none)."""
    if not emu.faults.remove(_rule_id(rule_id)):
        raise ApiError(404, f"fault rule {rule_id} does not exist")
    return Response(200, {}, b"")
