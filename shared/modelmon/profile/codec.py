"""The profile blob format: magic, version, type tag, CRC-32, then a MessagePack body.

    offset 0  b"MMPF"       magic
    offset 4  u8            format version (FORMAT_VERSION)
    offset 5  u8            what the body holds (dataset / numeric / categorical)
    offset 6  u32 LE        CRC-32 of the version and tag bytes, then the body (versions 1
                            and 2: of the body alone)
    offset 10 ...           MessagePack body: counters and sketch bytes (see READABLE_VERSIONS)

The CRC catches truncation and bit rot before a sketch library ever parses the bytes; from
format 3 it covers the version and tag too, so a flipped bit there (3 read as 2, a dataset
read as an exact one) is refused like any other.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any, Final, TypeVar

import msgspec

from modelmon.errors import CorruptBlobError

MAGIC: Final = b"MMPF"
FORMAT_VERSION: Final = 3
#: Versions this build reads. 1: numeric distributions as DataSketches KLL bytes (random
#: compaction, body key "kll"); 2: modelmon's deterministic KLL ("kll2") and, for categorical
#: features with more categories than the frequent-items sketch tracks, a category sample;
#: 3: positional bodies (lists, short keys), KLL values packed by ``floatpack`` (a dataset's
#: numeric features all in one "v" field), moments and category sample left out when the
#: sketches give them exactly (docs/decisions/0008-profile-format-v3.md). Bodies of versions
#: 1 and 2 are maps, of version 3 lists (a dataset's: a map of "r", "f", "v").
READABLE_VERSIONS: Final = (1, 2, 3)
TAG_DATASET: Final = 1
TAG_NUMERIC: Final = 2
TAG_CATEGORICAL: Final = 3
#: A small window's rows kept exactly (profile/exact.py); ``DatasetProfile.deserialize`` reads it.
TAG_EXACT: Final = 4
#: Tags whose body may be a list (format 3's feature profiles); every other body is a map.
LIST_BODIES: Final = frozenset({TAG_NUMERIC, TAG_CATEGORICAL})
_TAG_NAMES: Final = {
    TAG_DATASET: "dataset",
    TAG_NUMERIC: "numeric",
    TAG_CATEGORICAL: "categorical",
    TAG_EXACT: "exact dataset",
}
_HEADER = struct.Struct("<4sBBI")

T = TypeVar("T")


def pack(tag: int, body: dict[str, Any] | list[Any]) -> bytes:
    payload = msgspec.msgpack.encode(body)
    return (
        _HEADER.pack(MAGIC, FORMAT_VERSION, tag, checksum(FORMAT_VERSION, tag, payload)) + payload
    )


def checksum(version: int, tag: int, payload: bytes) -> int:
    """The header's CRC-32 of a blob of this version and tag (see the module docstring)."""
    if version < 3:
        return zlib.crc32(payload)
    return zlib.crc32(payload, zlib.crc32(bytes((version, tag))))


def unpack(blob: bytes, *tags: int) -> tuple[int, Any]:
    """Check the header and CRC and decode the body; raises CorruptBlobError with the cause."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise CorruptBlobError(f"a profile blob must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < _HEADER.size:
        raise CorruptBlobError(f"profile blob too short ({len(blob)} bytes)")
    magic, version, tag, crc = _HEADER.unpack_from(blob, 0)
    if magic != MAGIC:
        raise CorruptBlobError(f"not a modelmon profile blob (magic {magic!r}, expected {MAGIC!r})")
    if version not in READABLE_VERSIONS:
        raise CorruptBlobError(
            f"profile blob format version {version} is not supported (this build reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}); rebuild the profile or upgrade modelmon"
        )
    if tag not in tags:
        expected = " or ".join(_TAG_NAMES.get(t, str(t)) for t in tags)
        raise CorruptBlobError(
            f"blob holds a {_TAG_NAMES.get(tag, tag)} profile, expected {expected}"
        )
    payload = blob[_HEADER.size :]
    if checksum(version, tag, payload) != crc:
        raise CorruptBlobError("profile blob is truncated or corrupt (CRC mismatch)")
    try:
        body = msgspec.msgpack.decode(payload)
    except msgspec.DecodeError as exc:
        raise CorruptBlobError(f"profile blob body does not decode: {exc}") from exc
    if not isinstance(body, dict | list) or (isinstance(body, list) and tag not in LIST_BODIES):
        raise CorruptBlobError("profile blob body is not a map")
    return tag, body


def field(body: dict[str, Any] | list[Any], name: str | int, kind: type[T] | tuple[type, ...]) -> T:
    """A required body field (a map's key or, format 3, a list's position) of the given type,
    or CorruptBlobError."""
    if isinstance(body, dict):
        value = body.get(name) if isinstance(name, str) else None
    else:
        value = body[name] if isinstance(name, int) and 0 <= name < len(body) else None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, float)):
        raise CorruptBlobError(f"profile blob field {name!r} is missing or of the wrong type")
    return value  # type: ignore[return-value]


def counters(body: dict[str, Any] | list[Any], name: str | int, length: int) -> list[int]:
    """A required field of ``length`` non-negative integers (a profile's counters)."""
    values = field(body, name, list)
    if len(values) != length or not all(isinstance(v, int) and v >= 0 for v in values):
        raise CorruptBlobError(
            f"profile blob field {name!r} must hold {length} non-negative integer counts"
        )
    return values


def load_sketch(loader: Callable[[Any], T], blob: Any, what: str) -> T:
    """Deserialize a DataSketches sketch, turning its errors into CorruptBlobError."""
    try:
        return loader(blob)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise CorruptBlobError(f"the {what} sketch in the profile blob is corrupt: {exc}") from exc
