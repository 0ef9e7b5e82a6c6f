"""Capture file bodies: SageMaker JSON Lines, optionally gzip-compressed and AES-GCM-encrypted.

Encrypted files start with the magic ``MMAG`` and a version byte, then a 12-byte nonce, then
the AES-256-GCM ciphertext (with its tag). The key is 32 bytes (base64 in settings).
"""

from __future__ import annotations

import base64
import binascii
import gzip as gzip_lib
import os
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from modelmon.errors import ConfigurationError, CorruptBlobError

MAGIC = b"MMAG\x01"
_NONCE = 12


def load_key(text: str) -> bytes:
    """A 32-byte AES key from its base64 text; a wrong key fails at start-up."""
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConfigurationError("archive.encryption_key must be base64 (32 bytes)") from exc
    if len(key) != 32:
        raise ConfigurationError(
            "archive.encryption_key must decode to 32 bytes: "
            "python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'"
        )
    return key


def encrypt(body: bytes, key: bytes, nonce: bytes | None = None) -> bytes:
    nonce = nonce or os.urandom(_NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, body, MAGIC)


def decrypt(blob: bytes, key: bytes) -> bytes:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _NONCE + 16:
        raise CorruptBlobError("not a modelmon encrypted capture file (bad header)")
    nonce = blob[len(MAGIC) : len(MAGIC) + _NONCE]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + _NONCE :], MAGIC)
    except InvalidTag as exc:
        raise CorruptBlobError(
            "capture file failed authentication (wrong key or tampered)"
        ) from exc


def encode_lines(records: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def pack(body: bytes, *, gzip: bool, key: bytes | None) -> bytes:
    """A file body as stored: gzip first (if asked), then encryption (if a key is given)."""
    if gzip:
        body = gzip_lib.compress(body, compresslevel=6, mtime=0)
    return encrypt(body, key) if key else body


def unpack(blob: bytes, *, gzip: bool, encrypted: bool, key: bytes | None) -> bytes:
    if encrypted:
        if key is None:
            raise ConfigurationError(
                "capture file is encrypted: set MODELMON_ARCHIVER__ENCRYPTION_KEY"
            )
        blob = decrypt(blob, key)
    return gzip_lib.decompress(blob) if gzip else blob


def iter_lines(body: bytes) -> Iterator[dict[str, Any]]:
    for line in body.splitlines():
        if line.strip():
            yield orjson.loads(line)
