"""Crafted shards that hung or misled every tar reader, one test per defect and reader.

The shard of the report: ``a.txt`` (empty) then ``b.txt`` with the size ``-0000002000``.
``int(x, 8)`` reads -1024, which took readers back to ``a.txt``'s header: a, b, a, b...
forever, or no sample at all and no end when the names have no WebDataset key. Each
test reads with a bounded consumer under a timer, so on a reader with the defect it
fails (too many samples, or ``Hang``) instead of hanging the suite.
"""

from __future__ import annotations

import itertools
import logging

import msgpack
import pytest
import requests

from ais_datasets import tario
from ais_datasets.errors import ShardReadError, TruncatedShardError
from ais_datasets.samples import iter_samples
from ais_datasets.tario import TarStream
from ais_emulator.store.archives import ArchiveError, iter_matching, list_members, read_member
from ais_tar import BLOCK, MAX_EXTENDED

from ._craft import archive, header, long_name, member, negative_loop, pax, pax_record
from ._oracle import COMPILED, parser, time_limit

SHARD = "ais://b/crafted.tar"

# (shard, the offset of the header at fault, what the error says)
CRAFTED = {
    "negative size": (negative_loop(), BLOCK, "not an octal number"),
    "negative size, no keys": (negative_loop("a", "b"), BLOCK, "not an octal number"),
    "signed size": (archive(header("a.txt", b"+0000000001\x00"), b"x".ljust(BLOCK, b"\0")),
                    0, "not an octal number"),
    "underscore in size": (archive(header("a.txt", b"00000000_01\x00")), 0,
                           "not an octal number"),
    "negative base-256 size": (archive(member("a.txt", b""), header("b.txt", b"\xff" * 12)),
                               BLOCK, "negative base-256"),
    "huge base-256 size": (archive(header("a.txt", b"\x80" + b"\xff" * 11)), 0,
                           "over the limit"),
    "negative PAX size": (archive(member("a.txt", b""), pax(pax_record("size", "-1024")),
                                  header("b.txt", 0)), BLOCK, "invalid PAX size"),
    "huge GNU long name": (archive(long_name("x" * (MAX_EXTENDED + 1) + ".bin"),
                                   member("short.bin", b"1")), 0,
                           "a GNU long name of 1048582 bytes is over the limit"),
    "huge PAX header": (archive(pax(pax_record("comment", "c" * MAX_EXTENDED)),
                                member("a.bin", b"1")), 0, "a PAX header of"),
}


def _bounded_samples(data: bytes, chunk: int):
    """At most 50 samples (the shards hold two): more means the reader looped."""
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    with time_limit(5):
        return list(itertools.islice(iter_samples(TarStream(chunks, shard=SHARD)), 50))


def _bounded_members(data: bytes, chunk: int):
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    with time_limit(5):
        return list(itertools.islice(TarStream(chunks, shard=SHARD), 50))


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "python"])
@pytest.mark.parametrize("chunk", [1 << 20, 512, 100])
@pytest.mark.parametrize("case", list(CRAFTED))
def test_datasets_reader_refuses_crafted_shards(case, chunk, compiled):
    if compiled and COMPILED is None:
        pytest.skip("ais_datasets._tarscan is not built")
    data, offset, reason = CRAFTED[case]
    with parser(compiled):
        for read in (_bounded_samples, _bounded_members):
            with pytest.raises(ShardReadError) as exc:
                read(data, chunk)
            err = exc.value
            assert not isinstance(err, TruncatedShardError)
            assert (err.shard, err.offset) == (SHARD, offset), err
            assert reason in err.reason and SHARD in str(err)


def test_compiled_scanner_hands_odd_sizes_to_python():
    if COMPILED is None:
        pytest.skip("ais_datasets._tarscan is not built")
    data = negative_loop()
    assert COMPILED.header(data, 0) == ("a.txt", 0)
    assert COMPILED.header(data, BLOCK) is None  # the signed size: Python decides
    assert COMPILED.scan(data, 0) == (BLOCK, [("a", "txt", b"", 0)])
    for field in (b"\xff" * 12, b"+0000000001\x00", b"00000000_01\x00", b"0o000000001\x00"):
        assert COMPILED.header(header("a.txt", field), 0) is None
    assert COMPILED.header(header("old-dir/", 0, b"\x00"), 0) is None


def test_every_sample_read_before_the_bad_header_is_delivered():
    data, _, _ = CRAFTED["negative size"]
    for compiled in ([True, False] if COMPILED is not None else [False]):
        with parser(compiled):
            status: dict = {}
            got = []
            with pytest.raises(ShardReadError), time_limit(5):
                for sample in iter_samples(TarStream([data], shard=SHARD), status=status):
                    got.append(sample.key)
                    assert len(got) < 50
            assert got == [] and status["open"]  # "a" was open when b.txt failed


@pytest.mark.parametrize("case", list(CRAFTED))
def test_emulator_reader_refuses_crafted_shards(case):
    data, offset, reason = CRAFTED[case]
    with time_limit(5):
        with pytest.raises(ArchiveError) as exc:
            list_members(data, ".tar")
        assert exc.value.offset == offset and reason in str(exc.value)
        with pytest.raises(ArchiveError):
            list(itertools.islice(iter_matching(data, ".tar", "", ""), 50))
        with pytest.raises(ArchiveError):
            read_member(data, ".tar", "b.txt")


def test_emulator_finds_a_member_before_the_damage():
    """As Go's reader does: archpath stops at the first match."""
    with time_limit(5):
        assert read_member(negative_loop(), ".tar", "a.txt") == b""


# ---------------------------------------------------------------------- over HTTP

def test_emulator_server_answers_crafted_shards_and_keeps_serving(ais_server):
    """A stored crafted shard could pin a server thread; now each request answers at
    once: 400 for archpath/archregx, and ARCH_DIR lists the shard as a plain object."""
    emu, base = ais_server.emulator, ais_server.url
    emu.reset()
    emu.create_bucket("crafted")
    for case, (data, _, _) in CRAFTED.items():
        emu.put_object("crafted", case.replace(" ", "-") + ".tar", data)
    emu.put_object("crafted", "good.tar", archive(member("g.txt", b"good")))
    with requests.Session() as http:
        for case in CRAFTED:
            url = f"{base}/v1/objects/crafted/{case.replace(' ', '-')}.tar"
            for params in ({"archpath": "b.txt"}, {"archregx": "b", "archmode": "prefix"}):
                r = http.get(url, params={"provider": "ais", **params}, timeout=10)
                assert r.status_code == 400, (case, params, r.status_code, r.text[:200])
                assert "crafted" in r.json()["message"]
        r = http.get(f"{base}/v1/buckets/crafted", timeout=10,
                     params={"provider": "ais"}, headers={"Accept": "application/msgpack"},
                     json={"action": "list", "value": {"props": "name,size",
                                                       "flags": str(1 << 3)}})
        assert r.status_code == 200
        names = [e["n"] for e in msgpack.unpackb(r.content)["Entries"]]
        assert names == sorted([f"{c.replace(' ', '-')}.tar" for c in CRAFTED]
                               + ["good.tar", "good.tar/g.txt"])
        assert http.get(f"{base}/v1/health", timeout=5).status_code == 200
        r = http.get(f"{base}/v1/objects/crafted/good.tar",
                     params={"provider": "ais", "archpath": "g.txt"}, timeout=10)
        assert (r.status_code, r.content) == (200, b"good")


def test_damage_after_a_match_cuts_the_reply_with_one_log_line(ais_server, caplog):
    """archregx on a shard whose damage comes after a first match: the 200 went out, so
    the reply is cut (as real AIS cuts it); the server logs one warning, no traceback."""
    caplog.set_level(logging.WARNING, logger="ais_emulator")
    emu, base = ais_server.emulator, ais_server.url
    emu.reset()
    emu.create_bucket("crafted")
    emu.put_object("crafted", "late-damage.tar", negative_loop())
    with requests.Session() as http:
        with pytest.raises(requests.exceptions.RequestException):
            r = http.get(f"{base}/v1/objects/crafted/late-damage.tar", timeout=10,
                         params={"provider": "ais", "archregx": "", "archmode": "prefix"})
            r.raise_for_status()
            r.content  # noqa: B018 - reading the cut body is what raises
        assert http.get(f"{base}/v1/health", timeout=5).status_code == 200
    ours = [r for r in caplog.records if r.name == "ais_emulator"]
    assert not [r for r in ours if r.exc_info], [r.getMessage() for r in ours]
    assert any("reply cut short" in r.getMessage() and "crafted" in r.getMessage()
               for r in ours), [r.getMessage() for r in ours]


def test_pure_python_switch_is_what_parser_patches():
    with parser(False):
        assert tario._fast is None and not TarStream([]).compiled
