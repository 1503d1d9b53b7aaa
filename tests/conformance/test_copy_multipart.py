"""Single-object copy (object_to) and multipart upload."""

from __future__ import annotations

import pytest
from aistore.sdk.errors import AISError, ErrObjNotFound


def test_copy_within_bucket(bck, kit):
    data = kit.payload("copy", 2048)
    src = bck.object("src.bin")
    src.get_writer().put_content(data)
    src.get_writer().set_custom_props({"tag": "orig"})
    assert src.copy(bck.object("dst/copy.bin")).status_code == 200
    assert bck.object("dst/copy.bin").get_reader().read_all() == data
    assert src.get_reader().read_all() == data
    assert [e.name for e in bck.list_all_objects()] == ["dst/copy.bin", "src.bin"]


def test_copy_to_other_bucket(ais_backend, bck, kit):
    other = ais_backend.bucket("cfdst")
    data = kit.payload("copy2", 999)
    bck.object("a").get_writer().put_content(data)
    bck.object("a").copy(other.object("b/renamed"))
    assert other.object("b/renamed").get_reader().read_all() == data
    assert other.object("b/renamed").head().size == 999
    assert [e.name for e in other.list_all_objects()] == ["b/renamed"]


def test_copy_overwrites_destination(bck):
    bck.object("s").get_writer().put_content(b"new")
    bck.object("d").get_writer().put_content(b"old old")
    bck.object("s").copy(bck.object("d"))
    assert bck.object("d").get_reader().read_all() == b"new"


def test_copy_missing_source(bck):
    with pytest.raises(AISError) as exc:
        bck.object("absent").copy(bck.object("dst"))
    assert exc.value.status_code == 404
    with pytest.raises(ErrObjNotFound):
        bck.object("dst").get_reader().read_all()


def test_copy_raw_object_to(bck, wire):
    bck.object("raw-src").get_writer().put_content(b"via uname")
    r = wire.put(wire.obj_path(bck.name, "raw-src"),
                 params={"provider": "ais", "object_to": f"ais/@#/{bck.name}/raw-dst",
                         "latest-ver": "false", "synchronize": "false"})
    assert r.status_code == 200
    assert bck.object("raw-dst").get_reader().read_all() == b"via uname"


# ---------------------------------------------------------------------------------------
# multipart upload


def test_multipart_parts_out_of_order(bck, wire):
    o = bck.object("mpu/obj")
    mpu = o.multipart_upload().create()
    assert mpu.upload_id
    mpu.add_part(3).put_content(b"-three")
    mpu.add_part(1).put_content(b"one")
    mpu.add_part(2).put_content(b"-two")
    # nothing is visible before completion
    r = wire.head(wire.obj_path(bck.name, "mpu/obj"),
                  params={"provider": "ais", "props": "name,size"})
    assert r.status_code == 404
    assert mpu.complete().status_code == 200
    assert o.get_reader().read_all() == b"one-two-three"
    assert o.head().size == len(b"one-two-three")
    assert [e.name for e in bck.list_all_objects()] == ["mpu/obj"]


def test_multipart_larger_parts(bck, kit):
    parts = [kit.payload(f"part{i}", 70_000 + i) for i in range(3)]
    mpu = bck.object("big").multipart_upload().create()
    for i, part in enumerate(parts, start=1):
        mpu.add_part(i).put_content(part)
    mpu.complete()
    assert bck.object("big").get_reader().read_all() == b"".join(parts)


def test_multipart_abort(bck, wire):
    o = bck.object("aborted")
    mpu = o.multipart_upload().create()
    mpu.add_part(1).put_content(b"data")
    assert mpu.abort().status_code == 200
    r = wire.head(wire.obj_path(bck.name, "aborted"),
                  params={"provider": "ais", "props": "name,size"})
    assert r.status_code == 404
    assert bck.list_all_objects() == []
    # the upload ID is gone
    r = wire.put(wire.obj_path(bck.name, "aborted"),
                 params={"provider": "ais", "uploadId": mpu.upload_id, "partNumber": "2"},
                 data=b"late")
    assert 400 <= r.status_code < 500


def test_multipart_abort_keeps_existing_object(bck):
    o = bck.object("existing")
    o.get_writer().put_content(b"before")
    mpu = o.multipart_upload().create()
    mpu.add_part(1).put_content(b"replacement")
    mpu.abort()
    assert o.get_reader().read_all() == b"before"


def _put_part(wire, bck, name, upload_id, part, data=b"x"):
    return wire.put(wire.obj_path(bck.name, name),
                    params={"provider": "ais", "uploadId": upload_id, "partNumber": part},
                    data=data)


@pytest.mark.parametrize("part", ["0", "-1", "10000", "10001", "abc", "1.5", ""])
def test_multipart_invalid_part_number_rejected(bck, wire, part):
    o = bck.object("parts")
    mpu = o.multipart_upload().create()
    r = _put_part(wire, bck, "parts", mpu.upload_id, part)
    assert r.status_code >= 400, (r.status_code, r.text)
    # the upload is still usable with a valid part
    mpu.add_part(1).put_content(b"valid")
    mpu.complete()
    assert o.get_reader().read_all() == b"valid"


@pytest.mark.ais_emulator_deviation(
    "real AIS (aisnode v1.5.0) answers 500 for partNumber 0, -1 and >= 10000 "
    "('chunk-manifest ...: invalid chunk number' / 'exceeds the maximum allowed (9999)'); "
    "a client error should be a 4xx, as the emulator answers (and as real AIS does for "
    "non-numeric part numbers)",
    on="live",
)
@pytest.mark.parametrize("part", ["0", "-1", "10000", "10001"])
def test_multipart_out_of_range_part_number_is_4xx(bck, wire, part):
    mpu = bck.object("parts").multipart_upload().create()
    r = _put_part(wire, bck, "parts", mpu.upload_id, part)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    mpu.abort()


@pytest.mark.parametrize("part", ["abc", "1.5", ""])
def test_multipart_non_numeric_part_number_is_400(bck, wire, part):
    mpu = bck.object("parts").multipart_upload().create()
    r = _put_part(wire, bck, "parts", mpu.upload_id, part)
    assert r.status_code == 400, (r.status_code, r.text)
    mpu.abort()


def test_multipart_highest_part_number_accepted(bck, wire):
    mpu = bck.object("maxpart").multipart_upload().create()
    r = _put_part(wire, bck, "maxpart", mpu.upload_id, "9999", b"last")
    assert r.status_code == 200, r.text
    mpu.abort()


def test_multipart_complete_needs_contiguous_parts(bck, wire):
    o = bck.object("gap")
    mpu = o.multipart_upload().create()
    mpu.add_part(1).put_content(b"a")
    mpu.add_part(3).put_content(b"c")
    r = wire.post(wire.obj_path(bck.name, "gap"),
                  params={"provider": "ais", "uploadId": mpu.upload_id},
                  json=wire.act("mpt-complete", [{"part-number": 1, "etag": ""},
                                                 {"part-number": 3, "etag": ""}]))
    assert r.status_code == 400, (r.status_code, r.text)
    r = wire.head(wire.obj_path(bck.name, "gap"), params={"provider": "ais",
                                                          "props": "name,size"})
    assert r.status_code == 404
    mpu.abort()


def test_multipart_complete_without_parts(bck, wire):
    mpu = bck.object("none").multipart_upload().create()
    r = wire.post(wire.obj_path(bck.name, "none"),
                  params={"provider": "ais", "uploadId": mpu.upload_id},
                  json=wire.act("mpt-complete", []))
    assert r.status_code == 400, (r.status_code, r.text)
    mpu.abort()


def test_multipart_unknown_upload_id(bck, wire):
    r = wire.put(wire.obj_path(bck.name, "x"),
                 params={"provider": "ais", "uploadId": "no-such-upload", "partNumber": "1"},
                 data=b"x")
    assert 400 <= r.status_code < 500
    r = wire.post(wire.obj_path(bck.name, "x"), params={"provider": "ais",
                                                        "uploadId": "no-such-upload"},
                  json=wire.act("mpt-complete", [{"part-number": 1, "etag": ""}]))
    assert 400 <= r.status_code < 500
