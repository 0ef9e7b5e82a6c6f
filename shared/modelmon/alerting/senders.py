"""Thin route senders: SNS publish, webhook POST, CloudWatch PutMetricData.

Each sender turns one ``Delivery`` into one call and classifies failures: retryable
(``RetryableDeliveryError``: timeouts, 5xx, throttling, connection refused) or rejected
(``RejectedDeliveryError``: 4xx, missing topic or secret). boto3 clients come from
``modelmon.adapters.aws``; webhooks use the standard library's HTTP client.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from modelmon.alerting.formatting import (
    json_body,
    slack_body,
    slack_digest,
    sns_attributes,
    sns_subject,
)
from modelmon.alerting.plan import Delivery
from modelmon.alerting.retry import RejectedDeliveryError, RetryableDeliveryError
from modelmon.alerting.signing import signed_headers

#: AWS error codes no retry will fix.
_REJECTED_CODES = {
    "NotFound",
    "NotFoundException",
    "InvalidParameter",
    "InvalidParameterValue",
    "InvalidParameterException",
    "InvalidParameterCombination",
    "MissingParameter",
    "AuthorizationError",
    "AccessDenied",
    "AccessDeniedException",
    "KMSDisabled",
    "EndpointDisabled",
    "ValidationError",
}
#: HTTP statuses worth retrying.
_RETRY_STATUS = {408, 425, 429}


def _aws_failure(what: str, exc: Exception) -> Exception:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _REJECTED_CODES:
            return RejectedDeliveryError(f"{what} rejected: {code}: {exc}")
    return RetryableDeliveryError(f"{what} failed: {exc}")


def _notification(delivery: Delivery) -> Any:
    if delivery.notification is None:
        raise RejectedDeliveryError(f"delivery {delivery.id} has no notification")
    return delivery.notification


class SnsSender:
    """``Publish`` with a subject, the JSON message and filterable message attributes."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __call__(self, delivery: Delivery) -> None:
        note = _notification(delivery)
        topic = delivery.topic_arn or ""
        request: dict[str, Any] = {
            "TopicArn": topic,
            "Subject": sns_subject(note),
            "Message": orjson.dumps(json_body(note)).decode(),
            "MessageAttributes": sns_attributes(note),
        }
        if topic.endswith(".fifo"):
            request["MessageGroupId"] = note.model_id
            request["MessageDeduplicationId"] = hashlib.sha256(note.event_id.encode()).hexdigest()
        try:
            self._client.publish(**request)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_failure(f"SNS publish to {topic}", exc) from exc


class CloudWatchSender:
    """One ``PutMetricData`` call per delivery (a batch already within the API's limits)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __call__(self, delivery: Delivery) -> None:
        try:
            self._client.put_metric_data(
                Namespace=delivery.namespace, MetricData=[m.to_aws() for m in delivery.metrics]
            )
        except (ClientError, BotoCoreError) as exc:
            raise _aws_failure(f"CloudWatch PutMetricData to {delivery.namespace}", exc) from exc


class WebhookSender:
    """POST the JSON or Slack body, signed when the route names a secret variable."""

    def __init__(self, secret: Callable[[str], str | None], clock: Callable[[], float]) -> None:
        self._secret = secret
        self._clock = clock
        # No proxy for webhooks unless configured in the environment the standard way.
        self._opener = urllib.request.build_opener()

    def __call__(self, delivery: Delivery) -> None:
        hook = delivery.webhook
        if hook is None:
            raise RejectedDeliveryError(f"delivery {delivery.id} has no webhook route")
        scheme = urllib.parse.urlsplit(hook.url).scheme.lower()
        if scheme != "https" and not (scheme == "http" and hook.allow_http):
            raise RejectedDeliveryError(
                f"{delivery.route}: URL scheme {scheme or 'none'!r} refused "
                "(https only; http with allow_http)"
            )
        if delivery.digest:
            body, delivery_id = orjson.dumps(slack_digest(delivery.digest)), delivery.id
        else:
            note = _notification(delivery)
            doc = slack_body(note) if hook.format == "slack" else json_body(note)
            body, delivery_id = orjson.dumps(doc), note.event_id
        secret: bytes | None = None
        if hook.secret_env:
            value = self._secret(hook.secret_env)
            if not value:
                raise RejectedDeliveryError(
                    f"{delivery.route}: signing secret variable {hook.secret_env} is not set"
                )
            secret = value.encode()
        headers = signed_headers(secret, int(self._clock()), body, delivery_id)
        request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
        try:
            # the scheme is https (or http when the route allows it), checked above
            with self._opener.open(request, timeout=hook.timeout_seconds) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            message = f"{delivery.route} answered HTTP {exc.code}"
            if exc.code in _RETRY_STATUS or exc.code >= 500:
                raise RetryableDeliveryError(message, _retry_after(exc.headers)) from exc
            raise RejectedDeliveryError(message) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RetryableDeliveryError(f"{delivery.route} unreachable: {reason}") from exc


def _retry_after(headers: Any) -> float | None:
    """Seconds from a ``Retry-After: <seconds>`` header (the HTTP-date form is ignored)."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
