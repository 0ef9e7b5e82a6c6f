"""Where input data lives: local files, folders (recursive) and ``s3://bucket/prefix``.

A :class:`Source` is one object to read: a name for messages, a size for progress and a way
to get its bytes. Listing never reads data; reading one source never affects another.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from modelmon.errors import ConfigurationError

#: File name endings modelmon reads when it walks a folder or an S3 prefix.
DATA_SUFFIXES: tuple[str, ...] = (
    ".jsonl",
    ".jsonl.gz",
    ".ndjson",
    ".ndjson.gz",
    ".json",
    ".json.gz",
    ".csv",
    ".csv.gz",
    ".parquet",
)


class DataSourceError(ConfigurationError):
    """An input path or S3 prefix does not exist, is empty or cannot be listed."""


@dataclass(frozen=True)
class Source:
    """One file or S3 object. Local files are streamed, never read whole into memory."""

    name: str
    size: int
    _opener: Callable[[], BinaryIO]
    local_path: str | None = None

    @property
    def gzipped(self) -> bool:
        return self.name.lower().endswith(".gz")

    def open(self) -> BinaryIO:
        """A binary stream of the content, gunzipped when the name ends in ``.gz``."""
        raw = self._opener()
        return gzip.GzipFile(fileobj=raw) if self.gzipped else raw  # type: ignore[return-value]

    def read_bytes(self) -> bytes:
        with self.open() as stream:
            return stream.read()

    def first_line(self) -> bytes:
        """The first line (without its end), to sniff a header or a record kind."""
        with self.open() as stream:
            return stream.readline().rstrip(b"\r\n").removeprefix(b"\xef\xbb\xbf")

    @property
    def suffix(self) -> str:
        """The data suffix without ``.gz``: ``.csv``, ``.parquet``, ``.jsonl``..."""
        name = self.name.lower().removesuffix(".gz")
        return "." + name.rsplit(".", 1)[-1] if "." in name.rsplit("/", 1)[-1] else ""


def is_data_file(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(DATA_SUFFIXES)


def list_sources(paths: Sequence[str], s3_client: Callable[[], Any] | None = None) -> list[Source]:
    """Every data file under ``paths`` (files as given; folders and prefixes walked, sorted).

    ``s3_client`` builds a boto3 S3 client; it is called only when an ``s3://`` path is given.
    """
    sources: list[Source] = []
    client: Any = None
    for path in paths:
        if path.startswith("s3://"):
            if s3_client is None:
                raise DataSourceError(f"{path}: reading from S3 needs AWS settings")
            client = client or s3_client()
            found = list(_s3_sources(client, path))
        else:
            found = list(_local_sources(Path(path)))
        if not found:
            raise DataSourceError(
                f"{path}: no data files found (looked for {', '.join(DATA_SUFFIXES)})"
            )
        sources.extend(found)
    return sources


def _local_sources(path: Path) -> Iterator[Source]:
    if path.is_file():
        yield _file_source(path)
    elif path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and is_data_file(p.name)):
            yield _file_source(child)
    else:
        raise DataSourceError(f"{path} does not exist")


def _file_source(path: Path) -> Source:
    return Source(str(path), path.stat().st_size, lambda: path.open("rb"), str(path))


def split_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise DataSourceError(f"{uri}: expected s3://bucket/prefix")
    return bucket, prefix


def _s3_sources(client: Any, uri: str) -> Iterator[Source]:
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        objects = [obj for page in pages for obj in page.get("Contents", [])]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise DataSourceError(f"{uri}: cannot list objects ({code})") from exc
    except BotoCoreError as exc:
        raise DataSourceError(f"{uri}: cannot reach S3 ({exc})") from exc
    for obj in sorted(objects, key=lambda o: str(o["Key"])):
        key = str(obj["Key"])
        if is_data_file(key):
            yield Source(f"s3://{bucket}/{key}", int(obj["Size"]), _s3_opener(client, bucket, key))


def _s3_opener(client: Any, bucket: str, key: str) -> Callable[[], BinaryIO]:
    def read() -> BinaryIO:
        body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return io.BytesIO(body)

    return read


def fetch_s3_files(client: Any, uri: str, names: Sequence[str]) -> dict[str, bytes]:
    """The files called ``names`` directly under ``s3://bucket/prefix/`` that exist."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri.rstrip("/") + "/")
    found: dict[str, bytes] = {}
    for name in names:
        try:
            found[name] = client.get_object(Bucket=bucket, Key=prefix + name)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            if code in ("NoSuchKey", "404"):
                continue
            raise DataSourceError(f"{uri}{name}: cannot read ({code})") from exc
        except BotoCoreError as exc:
            raise DataSourceError(f"{uri}: cannot reach S3 ({exc})") from exc
    return found


def upload_s3_files(
    client: Any, directory: Path, uri: str, encryption: dict[str, str] | None = None
) -> list[str]:
    """Upload every file of ``directory`` under ``s3://bucket/prefix/``; returns the URIs.

    ``encryption``: ``put_object`` arguments (``modelmon.adapters.aws.s3_encryption``);
    SSE-S3 when not given, so no object is ever written unencrypted.
    """
    extra = encryption or {"ServerSideEncryption": "AES256"}
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri.rstrip("/") + "/")
    written = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        try:
            client.put_object(
                Bucket=bucket, Key=prefix + path.name, Body=path.read_bytes(), **extra
            )
        except (ClientError, BotoCoreError) as exc:
            raise DataSourceError(f"cannot write s3://{bucket}/{prefix}{path.name}: {exc}") from exc
        written.append(f"s3://{bucket}/{prefix}{path.name}")
    return written
