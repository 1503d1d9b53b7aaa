"""Coverage-guided fuzzing of every tar reader with ``atheris`` (libFuzzer), for ``make fuzz``.

Each input is two control bytes (chunk size, samples to skip) and the archive; the
property is :func:`tar._oracle.check`'s, the same as the ``hypothesis`` tests'. The
decoder and both readers are instrumented for coverage; a seed corpus of valid and
crafted archives is written first. A failing input is saved by libFuzzer as
``crash-*`` in the working directory::

    cd tests && python -m tar.atheris_tar build/tar-corpus -max_total_time=120
"""

from __future__ import annotations

import os
import sys

import atheris

with atheris.instrument_imports(include=["ais_tar", "ais_datasets.tario",
                                         "ais_datasets.samples",
                                         "ais_emulator.store.archives"]):
    from ._craft import archive, header, long_name, member, negative_loop, pax, pax_record
    from ._oracle import check

SIZES = (7, 100, 511, 512, 513, 4096, 1 << 20)


def one_input(data: bytes) -> None:
    if len(data) < 2:
        return
    check(data[2:], [SIZES[data[0] % len(SIZES)]], skip=data[1] % 4)


def seeds() -> dict[str, bytes]:
    """Valid and crafted archives to start from."""
    plain = [member(f"s{i}.{ext}", bytes(i * 100)) for i in range(3) for ext in ("jpg", "cls")]
    return {
        "plain": archive(*plain),
        "gnu-long": archive(long_name("n" * 200 + ".bin"), member("x", b"long")),
        "pax": archive(pax(pax_record("path", "p/a.txt") + pax_record("size", "3")),
                       member("ignored", b"abc")),
        "negative": negative_loop(),
        "keyless": negative_loop("a", "b"),
        "base256": archive(header("a.bin", b"\x80" + (5).to_bytes(11, "big")),
                           b"12345".ljust(512, b"\0")),
        "dir-link": archive(header("d/", 0, b"5"), header("l", 0, b"2"), member("f.txt", b"f")),
    }


def main() -> None:
    corpus = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if corpus:
        os.makedirs(corpus, exist_ok=True)
        for name, data in seeds().items():
            with open(os.path.join(corpus, f"seed-{name}"), "wb") as fh:
                fh.write(b"\x00\x00" + data)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
