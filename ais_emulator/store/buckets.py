"""Bucket identity, AIS's bucket-name rule, and the per-bucket object table.

A bucket is identified by provider, namespace (uuid, name) and name, as in AIS. Providers
are normalised the way AIS normalises them ("" -> ais, s3 -> aws, gs -> gcp, az -> azure,
oc -> oci). The object table keeps a sorted name index so listing pages are bisections,
and holds the rule that objects are files (``Bucket.check_path``).

    bck = BucketId.parse("ais", "data", namespace="@#team")
    validate_bucket_name("a/b")            # raises InvalidBucketName

The rule is Go's ``Bck.ValidateName``: at most 64 characters (``cos.MaxNameLength``),
ASCII letters, digits, ``-``, ``_`` and ``.`` (no ``..``), and no leading ``.`` except
AIS's own system buckets (``.sys-inventory``, ``.sys-shardidx``). A namespace name is
held to the same length.
"""

from __future__ import annotations

import bisect
import re
import time
from dataclasses import dataclass, field

from ais_emulator.store.errors import (
    InvalidBucketName,
    InvalidProvider,
    InvalidRequest,
    ObjectPathConflict,
)

PROVIDER_ALIASES = {"": "ais", "s3": "aws", "gs": "gcp", "az": "azure", "oc": "oci"}
PROVIDERS = ("ais", "aws", "gcp", "azure", "oci", "ht")

_NAME_RE = re.compile(r"[.a-zA-Z0-9_-]+\Z")  # \Z: "$" would accept a trailing newline
_NS_RE = re.compile(r"[a-zA-Z0-9_-]*\Z")
_NAME_HELP = "may only contain letters, numbers, dashes (-), underscores (_), and dots (.)"
MAX_NAME_LEN = 64  # cos.MaxNameLength: bucket and namespace names
SYSTEM_BUCKETS = (".sys-inventory", ".sys-shardidx")


def normalize_provider(provider: str | None) -> str:
    p = (provider or "").strip().lower()
    p = PROVIDER_ALIASES.get(p, p)
    if p not in PROVIDERS:
        raise InvalidProvider(provider or "")
    return p


def validate_bucket_name(name: str) -> None:
    """Go's rule, checked in Go's order (the first failure names the reason)."""
    if not name:
        raise InvalidBucketName(name, "bucket name is missing")
    if name[0] == ".":
        if name in SYSTEM_BUCKETS:
            return
        raise InvalidBucketName(name, f'reserved bucket name "{name}" (unknown system bucket)')
    if len(name) > MAX_NAME_LEN:
        raise InvalidBucketName(name, f"bucket name is too long: {len(name)} > "
                                      f"{MAX_NAME_LEN}(max length)")
    if not _NAME_RE.match(name) or ".." in name:
        raise InvalidBucketName(name, f"bucket name is invalid: {_NAME_HELP}")


def parse_namespace(ns: str | tuple[str, str] | None) -> tuple[str, str]:
    """Accept "@uuid#name" (the query-string form), "" / None, or a (uuid, name) pair."""
    if ns is None or ns == "":
        return "", ""
    if isinstance(ns, tuple):
        uuid, name = ns
    elif hasattr(ns, "uuid") and hasattr(ns, "name"):
        uuid, name = ns.uuid, ns.name
    else:
        text = str(ns)
        if text.startswith("@"):
            text = text[1:]
        uuid, sep, name = text.partition("#")
        if not sep:
            # Go: a bare string is a namespace name in the local cluster
            uuid, name = "", uuid
    if len(name) > MAX_NAME_LEN:
        raise InvalidRequest(f"namespace is too long: {len(name)} > {MAX_NAME_LEN}(max length)")
    if not _NS_RE.match(uuid) or not _NS_RE.match(name):
        raise InvalidRequest(
            f"namespace (uuid: {uuid!r}, name: {name!r}) may only contain letters, numbers, "
            "dashes (-), underscores (_)"
        )
    return uuid, name


@dataclass(frozen=True)
class BucketId:
    """Provider, namespace and name of a bucket (hashable; use as a key)."""

    provider: str
    name: str
    ns_uuid: str = ""
    ns_name: str = ""

    @classmethod
    def parse(cls, provider: str | None, name: str, namespace=None) -> BucketId:
        validate_bucket_name(name)
        uuid, ns_name = parse_namespace(namespace)
        return cls(normalize_provider(provider), name, uuid, ns_name)

    @property
    def has_namespace(self) -> bool:
        return bool(self.ns_uuid or self.ns_name)

    @property
    def namespace_str(self) -> str:
        """"@uuid#name", or "" for the global namespace."""
        return f"@{self.ns_uuid}#{self.ns_name}" if self.has_namespace else ""

    def uname(self) -> str:
        """AIS "uname" of the bucket: ``ais/@#/b/`` (Go's MakeUname)."""
        return f"{self.provider}/@{self.ns_uuid}#{self.ns_name}/{self.name}/"

    def __str__(self) -> str:
        ns = f"{self.namespace_str}/" if self.has_namespace else ""
        return f"{self.provider}://{ns}{self.name}"


def parse_uname(uname: str) -> tuple[BucketId, str]:
    """Split ``<provider>/@<uuid>#<ns>/<bucket>/<obj>`` (Go splits on the first three '/')."""
    parts = uname.split("/", 3)
    if len(parts) < 3 or not parts[1].startswith("@"):
        raise InvalidRequest(f"invalid uname {uname!r}: expecting <provider>/@<uuid>#<ns>/<bucket>/[<obj>]")
    obj = parts[3] if len(parts) == 4 else ""
    return BucketId.parse(parts[0], parts[2], parts[1]), obj


_NOT_DIR = "destination contains an object in its path"
_IS_DIR = "destination exists and is a virtual directory"


@dataclass
class Bucket:
    """One bucket: its identity, creation time and objects (guarded by the store lock)."""

    id: BucketId
    created_ns: int = field(default_factory=time.time_ns)
    bid: int = 0
    objects: dict = field(default_factory=dict)
    names: list = field(default_factory=list)  # sorted object names

    def insert(self, record) -> None:
        if record.name not in self.objects:
            bisect.insort(self.names, record.name)
        self.objects[record.name] = record

    def remove(self, name: str) -> None:
        del self.objects[name]
        i = bisect.bisect_left(self.names, name)
        if i < len(self.names) and self.names[i] == name:
            del self.names[i]

    def check_path(self, name: str) -> None:
        """Objects are files: ``name`` may neither sit under an object (``a`` blocks
        ``a/b``) nor replace a virtual directory (``d/e`` blocks ``d``);
        ``ObjectPathConflict`` otherwise. Call under the store lock."""
        if name not in self.objects:
            for i, ch in enumerate(name):
                if ch == "/" and name[:i] in self.objects:
                    raise ObjectPathConflict(self.id, name, _NOT_DIR)
            under = name + "/"
            i = bisect.bisect_left(self.names, under)
            if i < len(self.names) and self.names[i].startswith(under):
                raise ObjectPathConflict(self.id, name, _IS_DIR)
