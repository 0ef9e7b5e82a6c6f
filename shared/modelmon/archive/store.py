"""Where capture files go: S3 (boto3, optional SSE-KMS) or a local directory.

Both stores write durably before ``put`` returns: S3 answers PUT only once the object is
stored; the local store writes a temporary file, fsyncs it, renames it into place and fsyncs
the directory. A failure raises ``DependencyUnavailableError`` (retry; do not commit).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from modelmon.errors import DependencyUnavailableError
from modelmon.names import contained
from modelmon.settings import Settings


class ArchiveStore(Protocol):
    """The archive I/O seam: put a file, list keys under a prefix, get a file."""

    def put(self, key: str, body: bytes) -> None: ...

    def list(self, prefix: str) -> Iterator[str]: ...

    def get(self, key: str) -> bytes: ...

    def describe(self) -> str: ...


def parse_destination(destination: str) -> tuple[str | None, str]:
    """(bucket, prefix) for ``s3://bucket/prefix``; (None, directory) otherwise."""
    if destination.startswith("s3://"):
        bucket, _, prefix = destination[5:].partition("/")
        return bucket, prefix.strip("/")
    return None, destination


class S3Store:
    """Capture files in S3 (or its emulator), SSE-KMS when a key id is given."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        kms_key_id: str | None = None,
        encryption: dict[str, str] | None = None,
    ) -> None:
        self.client, self.bucket, self.kms_key_id = client, bucket, kms_key_id
        if encryption is None:
            encryption = {"ServerSideEncryption": "AES256"}
            if kms_key_id:
                encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        self.encryption = encryption

    def put(self, key: str, body: bytes) -> None:
        extra = self.encryption
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **extra)
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError(f"S3 put s3://{self.bucket}/{key}: {exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                yield str(obj["Key"])

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body

    def delete(self, keys: Sequence[str]) -> None:
        """Delete objects (1,000 per request); retention of the results tier (issue 23)."""
        try:
            for i in range(0, len(keys), 1000):
                objects = [{"Key": k} for k in keys[i : i + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects})
        except (BotoCoreError, ClientError) as exc:
            raise DependencyUnavailableError(f"S3 delete in s3://{self.bucket}: {exc}") from exc

    def describe(self) -> str:
        return f"s3://{self.bucket}"


class LocalStore:
    """Capture files under a local directory; keys are relative paths."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes) -> None:
        path = contained(self.root, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise DependencyUnavailableError(f"writing {path}: {exc}") from exc

    def list(self, prefix: str) -> Iterator[str]:
        base = contained(self.root, prefix)
        if not base.exists():
            return
        root = self.root.resolve()
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.startswith(".tmp-"):
                yield path.relative_to(root).as_posix()

    def get(self, key: str) -> bytes:
        return contained(self.root, key).read_bytes()

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            contained(self.root, key).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root)


def open_store(settings: Settings, destination: str) -> tuple[ArchiveStore, str]:
    """The store and key prefix of ``s3://bucket/prefix`` or of a local directory."""
    from modelmon.adapters.aws import boto_client, s3_encryption

    bucket, prefix = parse_destination(destination)
    if bucket is not None:
        s3 = boto_client(settings.aws, "s3")
        sse = s3_encryption(settings.aws, settings.archiver.kms_key_id)
        return S3Store(s3, bucket, settings.archiver.kms_key_id, sse), prefix
    return LocalStore(prefix), ""
