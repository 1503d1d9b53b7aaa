"""Object selection for multi-object operations: AIS's range-template grammar."""

from __future__ import annotations

import pytest

from ais_emulator.store import BucketId, Store
from ais_emulator.store.templates import (
    InvalidTemplate,
    parse_template,
    select_objects,
    selection,
)


@pytest.mark.parametrize("template, names", [
    ("a-{0..3}", ["a-0", "a-1", "a-2", "a-3"]),
    ("a-{1..100..50}", ["a-1", "a-51"]),  # width = the shorter spelling: unpadded
    ("a-{001..010..3}.x", ["a-001.x", "a-004.x", "a-007.x", "a-010.x"]),
    ("{0..1}-{a..b}", None),  # letters are not AIS ranges
    ("p{0..1}q{00..01}r", ["p0q00r", "p0q01r", "p1q00r", "p1q01r"]),
    ("p-@02.t", ["p-00.t", "p-01.t", "p-02.t"]),
    ("p-@2/@01", ["p-0/00", "p-0/01", "p-1/00", "p-1/01", "p-2/00", "p-2/01"]),
])
def test_expand(template, names):
    if names is None:
        with pytest.raises(InvalidTemplate):
            parse_template(template)
    else:
        assert list(parse_template(template).expand()) == names


@pytest.mark.parametrize("template, prefix", [
    ("", ""), ("*", ""), ("img/", "img/"), ("img/*", "img/"), ("a{1..2", "a{1..2"),
])
def test_prefix_templates(template, prefix):
    pt = parse_template(template)
    assert not pt.is_range and pt.prefix == prefix


@pytest.mark.parametrize("template", [
    "a{3..1}", "a{1..2..0}", "a{-1..2}", "a{1..2..3..4}", "a}{", "a-@", "a-%0d", "a-%x6d",
])
def test_invalid(template):
    with pytest.raises(InvalidTemplate):
        parse_template(template)


def test_printf_style_matches_existing_names():
    pt = parse_template("s-%03d.tar")
    assert pt.open_ended
    assert pt.matches("s-007.tar") and pt.matches("s-1234.tar")
    assert not pt.matches("s-07.tar") and not pt.matches("s-007.tgz")


@pytest.fixture
def store():
    s = Store()
    bck = BucketId.parse("ais", "b")
    s.create_bucket(bck)
    for name in ["img/1.jpg", "img/2.jpg", "s-000.tar", "s-001.tar", "s-01.tar", "txt"]:
        s.put_object(bck, name, b"x")
    return s, bck


def test_select_objects(store):
    s, bck = store
    assert select_objects(s, bck, {"objnames": ["txt", "nope"]}) == ["txt", "nope"]
    assert select_objects(s, bck, {"template": "img/"}) == ["img/1.jpg", "img/2.jpg"]
    assert len(select_objects(s, bck, {"template": ""})) == 6
    assert select_objects(s, bck, {"template": "s-%03d.tar"}) == ["s-000.tar", "s-001.tar"]
    assert select_objects(s, bck, {"template": "s-{000..002}.tar"}) == \
        ["s-000.tar", "s-001.tar", "s-002.tar"]
    sel = selection(s, bck, {"template": "s-{000..002}.tar"})
    assert sel.ranged and not sel.listed
    assert selection(s, bck, {"objnames": ["txt"]}).listed
