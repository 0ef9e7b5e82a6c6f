"""Alerting: from the alerts topic to CloudWatch metrics, SNS and webhooks (see docs/alerting.md).

Pure logic (no Kafka, Redis, boto3, clock or environment): ``state`` (the per-alert-key state
machine), ``plan`` (what one event must deliver), ``formatting`` (subjects, JSON, Slack bodies),
``cloudwatch`` (metric data under SageMaker's names, batched to PutMetricData's limits),
``signing`` (HMAC-SHA256 webhook signatures) and ``retry`` (backoff schedule and runner).
Thin I/O: ``store`` (Redis state, plans and delivery records), ``senders`` (SNS, webhooks,
CloudWatch) and ``router`` (one event through every route, exactly once per route).
"""
