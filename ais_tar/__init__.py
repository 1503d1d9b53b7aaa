"""One tar header decoder for ``ais_datasets`` and ``ais_emulator`` (stdlib only).

Both packages read tar shards: the datasets stream them from AIStore, the emulator lists
and serves their members. Their header rules live here, once, so that the two cannot
drift. The package imports neither of them (nor torch)::

    from ais_tar import TarError, read_entry

    entry = read_entry(src.read, src.skip, offset)   # the next entry, or None at the end
    entry.name, entry.size, entry.regular, entry.data_offset

:mod:`ais_tar.header` holds the rules for one 512-byte block (numeric fields, checksum,
names, PAX records, limits); :mod:`ais_tar.entries` reads the chain of extended headers
in front of an entry. Reading the entry's data is the caller's business.
"""

from ais_tar.entries import Entry, read_entry
from ais_tar.header import (
    BLOCK,
    MAX_EXTENDED,
    MAX_SIZE,
    TarError,
    TruncatedTarError,
    checksum_ok,
    parse_number,
    plain_header,
)

__all__ = [
    "BLOCK",
    "MAX_EXTENDED",
    "MAX_SIZE",
    "Entry",
    "TarError",
    "TruncatedTarError",
    "checksum_ok",
    "parse_number",
    "plain_header",
    "read_entry",
]
