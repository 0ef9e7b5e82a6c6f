"""AWS resources of one demo run on the emulator (or real AWS): a bucket, an SNS topic with
an SQS queue subscribed to it, and the look-ups the end-of-run summary prints.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from typing import Any

from modelmon.adapters.aws import boto_client
from modelmon.settings import AwsSettings


@dataclass(frozen=True)
class DemoAws:
    """Where the demo's archive, reports and notifications go."""

    bucket: str
    topic_arn: str
    queue_url: str


def create(aws: AwsSettings, name: str) -> DemoAws:
    """Create (idempotently) the bucket, topic, queue and the topic -> queue subscription."""
    s3, sns, sqs = (boto_client(aws, s) for s in ("s3", "sns", "sqs"))
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if name not in buckets:
        if aws.region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": aws.region}
            )
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue_url)  # what an earlier run left is not this run's
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    subs = sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    if not any(s.get("Endpoint") == queue_arn for s in subs):
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return DemoAws(name, topic_arn, queue_url)


def count_objects(
    aws: AwsSettings, bucket: str, prefix: str, since: float = 0.0
) -> tuple[int, int]:
    """(objects, bytes) under ``s3://bucket/prefix`` written at or after ``since`` (epoch s)."""
    s3 = boto_client(aws, "s3")
    count = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["LastModified"].timestamp() >= since:
                count += 1
                size += obj["Size"]
    return count, size


def metric_names(aws: AwsSettings, namespace: str, endpoint: str) -> list[str]:
    """CloudWatch metric names in ``namespace`` with the dimension ``Endpoint=endpoint``
    (filtered by the service: a namespace shared by many models lists slowly otherwise)."""
    cw = boto_client(aws, "cloudwatch")
    names: set[str] = set()
    only = [{"Name": "Endpoint", "Value": endpoint}]
    for page in cw.get_paginator("list_metrics").paginate(Namespace=namespace, Dimensions=only):
        for metric in page.get("Metrics", []):
            if any(d.get("Value") == endpoint for d in metric.get("Dimensions", [])):
                names.add(metric["MetricName"])
    return sorted(names)


def drain_queue(aws: AwsSettings, queue_url: str, max_rounds: int = 20) -> list[dict[str, Any]]:
    """Receive and delete what SNS delivered to the queue; returns the decoded messages."""
    sqs = boto_client(aws, "sqs")
    got: list[dict[str, Any]] = []
    for _ in range(max_rounds):
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = resp.get("Messages", [])
        if not messages:
            break
        for msg in messages:
            envelope = json.loads(msg["Body"])
            with contextlib.suppress(ValueError):
                envelope["Message"] = json.loads(envelope.get("Message", ""))
            got.append(envelope)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])
    return got
