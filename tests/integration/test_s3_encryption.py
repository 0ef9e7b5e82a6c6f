"""Every object modelmon writes to S3 is server-side encrypted (SSE-KMS when configured).

The archiver (its own process), the detector's report writer and the baseline upload write
into one bucket of the emulator; then every object in it is listed and checked. A source
scan makes sure no other ``put_object`` call site exists that could skip the arguments.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelmon.adapters.reports import ReportWriter
from modelmon.capture import CaptureClient
from modelmon.cli.baseline import output_dir
from modelmon.settings import Settings

from .test_archiver import ArchiverProcess, archiver, archiver_env, topic_settings

__all__ = ["archiver"]
ROOT = Path(__file__).resolve().parents[2]
KEY = "alias/modelmon-test"


def _every_object(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def test_every_s3_object_the_services_write_is_sse_kms_encrypted(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, s3_bucket: str,
    boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    eventually: Callable[..., Any], tmp_path: Path, monkeypatch: Any,
) -> None:  # fmt: skip
    s3 = boto_client("s3")
    topic, dlq = new_topic(1), new_topic(1)
    with CaptureClient("sse-model", settings=topic_settings(settings, topic)) as client:
        for i in range(3):
            client.capture({"x": i}, i)
        assert client.flush(30) == 0
    proc = archiver(
        **archiver_env(topic, dlq, consumer_group, f"s3://{s3_bucket}/capture"),
        MODELMON_AWS__S3_KMS_KEY_ID=KEY,
    )
    eventually(lambda: _every_object(s3, s3_bucket), 90, "an archive file")
    assert proc.stop() == 0
    aws = settings.aws.model_copy(update={"s3_kms_key_id": KEY})
    conf = settings.model_copy(update={"aws": aws})
    # the detector's and the label join's report writer
    ReportWriter(conf.aws).write(f"s3://{s3_bucket}/reports/m/s/", {"statistics.json": "{}"})
    monkeypatch.setenv("MODELMON_AWS__S3_KMS_KEY_ID", KEY)
    for name, value in (("AWS_ENDPOINT_URL", aws.endpoint_url), ("AWS_DEFAULT_REGION", aws.region)):
        if value:
            monkeypatch.setenv(name, value)
    with output_dir(f"s3://{s3_bucket}/baseline") as target:
        (target / "constraints.json").write_text("{}")
    keys = _every_object(s3, s3_bucket)
    prefixes = {k.split("/", 1)[0] for k in keys}
    assert prefixes == {"capture", "reports", "baseline"}, keys
    for key in keys:
        head = s3.head_object(Bucket=s3_bucket, Key=key)
        assert (head.get("ServerSideEncryption"), head.get("SSEKMSKeyId")) == ("aws:kms", KEY), key


def test_without_a_kms_key_every_write_still_asks_for_sse_s3() -> None:
    from modelmon.adapters.aws import s3_encryption
    from modelmon.settings import AwsSettings

    assert s3_encryption(AwsSettings()) == {"ServerSideEncryption": "AES256"}
    assert s3_encryption(AwsSettings(s3_encryption="aws:kms")) == {
        "ServerSideEncryption": "aws:kms"
    }
    assert s3_encryption(AwsSettings(), "k") == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "k",
    }


def test_no_put_object_call_can_skip_the_encryption_arguments() -> None:
    unprotected = []
    for base in ("shared", "services"):
        for path in (ROOT / base).rglob("*.py"):
            tree = ast.parse(path.read_text(), str(path))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("put_object", "upload_file", "upload_fileobj")
                ):
                    named = {k.arg for k in node.keywords}
                    spread = any(k.arg is None for k in node.keywords)
                    if not spread and "ServerSideEncryption" not in named:
                        unprotected.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert unprotected == []
