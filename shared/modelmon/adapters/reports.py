"""Where the services write report files (the detector's per window, the label join's per quality
window): a local directory (no path escapes its root) or S3 (with the configured encryption)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from modelmon.adapters.aws import boto_client, s3_encryption
from modelmon.errors import DependencyUnavailableError
from modelmon.names import contained
from modelmon.settings import AwsSettings


class ReportWriter:
    """``write(uri, files)``: each file atomically into a directory under ``root`` (a path
    that would resolve outside it is refused), or put on S3 with the configured encryption."""

    def __init__(self, aws: AwsSettings, root: str | None = None) -> None:
        self._aws, self._root = aws, root or "."
        self._s3: Any = None

    def write(self, uri: str, files: dict[str, str]) -> None:
        if not uri.startswith("s3://"):
            directory = contained(self._root, str(Path(uri).relative_to(self._root)))
            directory.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                # a temp name of its own: two processes may write one shared file (plotly.js)
                tmp = directory / f"{name}.{uuid.uuid4().hex}.tmp"
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(directory / name)
            return
        from botocore.exceptions import BotoCoreError, ClientError

        if self._s3 is None:
            self._s3 = boto_client(self._aws, "s3")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        for name, text in files.items():
            try:
                self._s3.put_object(
                    Bucket=bucket, Key=prefix + name, Body=text.encode(), **s3_encryption(self._aws)
                )
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailableError(f"cannot write {uri}{name}: {exc}") from exc
