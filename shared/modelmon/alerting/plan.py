"""What one event on the alerts topic must deliver, route by route.

A plan is computed once per event (from the event, the model's routes and the alert state),
stored in Redis together with the new state, and then worked through; each delivery's outcome
is recorded before the Kafka offset is committed. A restart replays the event, finds the plan
and skips what was already delivered, so nothing is notified twice and nothing is lost.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from modelmon.alerting.cloudwatch import MetricDatum, batches, window_metrics
from modelmon.config import ModelConfig, WebhookRoute
from modelmon.events import AlertEvent, WindowEvaluated

RouteKind = Literal["sns", "webhook", "cloudwatch"]


class Delivery(BaseModel):
    """One send to one route: a notification (SNS, webhook) or a batch of metric data."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="unique within the plan; the key of its delivery record")
    kind: RouteKind
    route: str = Field(description="for logs and dead letters; never holds a URL's path")
    notification: AlertEvent | None = None
    digest: list[AlertEvent] = Field(
        default_factory=list, description="Slack routes: several state changes in one message"
    )
    topic_arn: str | None = None
    webhook: WebhookRoute | None = None
    namespace: str | None = None
    metrics: list[MetricDatum] = Field(default_factory=list)


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    model_id: str
    deliveries: list[Delivery] = Field(default_factory=list)


def webhook_label(index: int, url: str) -> str:
    """``webhook[0]:https://hooks.slack.com``: Slack-style URLs carry a token in the path."""
    parts = urlsplit(url)
    return f"webhook[{index}]:{parts.scheme}://{parts.netloc}"


def build_plan(
    event: AlertEvent | WindowEvaluated,
    config: ModelConfig,
    notifications: list[AlertEvent],
    default_sns_topic: str | None = None,
    cloudwatch: bool = True,
) -> Plan:
    """Every delivery of one event: notifications to SNS and webhooks, metrics to CloudWatch.

    ``cloudwatch=False`` (the service's ``--no-cloudwatch``) publishes no metrics whatever the
    model config says: for deployments without AWS.
    """
    routes = config.alerts
    deliveries: list[Delivery] = []
    topic = routes.sns_topic_arn or default_sns_topic
    for note in notifications:
        if topic:
            deliveries.append(
                Delivery(
                    id=f"sns|{note.event_id}",
                    kind="sns",
                    route=f"sns:{topic}",
                    notification=note,
                    topic_arn=topic,
                )
            )
        for index, hook in enumerate(routes.webhooks):
            if hook.format == "slack" and len(notifications) > 1:
                continue  # one digest below instead (Slack allows about one message a second)
            deliveries.append(
                Delivery(
                    id=f"webhook{index}|{note.event_id}",
                    kind="webhook",
                    route=webhook_label(index, hook.url),
                    notification=note,
                    webhook=hook,
                )
            )
    if len(notifications) > 1:
        for index, hook in enumerate(routes.webhooks):
            if hook.format == "slack":
                deliveries.append(
                    Delivery(
                        id=f"webhook{index}|digest|{event.event_id}",
                        kind="webhook",
                        route=webhook_label(index, hook.url),
                        digest=list(notifications),
                        webhook=hook,
                    )
                )
    if isinstance(event, WindowEvaluated) and cloudwatch and routes.cloudwatch.enabled:
        data = window_metrics(event.result, routes.cloudwatch, config)
        for index, batch in enumerate(batches(data)):
            deliveries.append(
                Delivery(
                    id=f"cloudwatch|{index}",
                    kind="cloudwatch",
                    route=f"cloudwatch:{routes.cloudwatch.namespace}",
                    namespace=routes.cloudwatch.namespace,
                    metrics=batch,
                )
            )
    return Plan(event_id=event.event_id, model_id=event.model_id, deliveries=deliveries)
