"""``modelmon run alerting``: routes the alerts topic to CloudWatch, SNS and webhooks.

Options are the ``alerting`` settings (``MODELMON_ALERTING__DEFAULT_SNS_TOPIC`` or
``--default-sns-topic``); connections come from the usual ``MODELMON_*`` settings. See
docs/alerting.md and docs/configuration.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from .service import AlertingService


def build(rt: Runtime) -> AlertingService:
    from modelmon.alerting.retry import RetryPolicy

    from .service import AlertingOptions, AlertingService

    opts = rt.settings.alerting
    options = AlertingOptions(
        topic=opts.topic or rt.settings.topics.alerts,
        group=opts.group,
        default_sns_topic=opts.default_sns_topic or None,
        cloudwatch=opts.cloudwatch,
        dedup_seconds=max(60, int(opts.dedup_hours * 3600)),
        concurrency=opts.concurrency,
        policy=RetryPolicy(
            attempts=opts.max_attempts, base_seconds=opts.backoff_base, max_seconds=opts.backoff_max
        ),
    )
    return AlertingService(rt.settings, options, rt.stop, rt.registry)


command = service_command(
    "alerting",
    build,
    help="Route alerts and window metrics to CloudWatch, SNS and webhooks, exactly once per route.",
)
