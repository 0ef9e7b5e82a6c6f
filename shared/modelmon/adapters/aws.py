"""boto3 client factory: region and endpoint (e.g. moto's server) from Settings."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from modelmon.settings import AwsSettings

_RETRIES = Config(
    retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30
)


def boto_client(aws: AwsSettings, service: str) -> Any:
    """A boto3 client for ``service`` (s3, cloudwatch, sns, sqs, ...)."""
    return boto3.client(  # type: ignore[call-overload]
        service, region_name=aws.region, endpoint_url=aws.endpoint_url, config=_RETRIES
    )


def s3_encryption(aws: AwsSettings, kms_key_id: str | None = None) -> dict[str, str]:
    """``put_object`` arguments for server-side encryption: every S3 write passes them.

    SSE-KMS with ``kms_key_id`` (e.g. the archive's) or ``aws.s3_kms_key_id`` when set,
    SSE-KMS with the AWS managed key for ``aws.s3_encryption=aws:kms``, else SSE-S3 (AES256).
    """
    key = kms_key_id or aws.s3_kms_key_id
    if key:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}
    return {"ServerSideEncryption": aws.s3_encryption}
