"""``modelmon run alerting``: routes the alerts topic to CloudWatch, SNS and webhooks.

Options also read ``MODELMON_ALERTING_*`` variables (e.g. ``MODELMON_ALERTING_DEFAULT_SNS_TOPIC``);
connections come from the usual ``MODELMON_*`` settings. See docs/alerting.md.
"""

from __future__ import annotations

import click


@click.command(name="alerting")
@click.option(
    "--topic", envvar="MODELMON_ALERTING_TOPIC", help="Default: the settings' alerts topic."
)
@click.option(
    "--group",
    envvar="MODELMON_ALERTING_GROUP",
    default="modelmon-alerting",
    show_default=True,
    help="Kafka consumer group.",
)
@click.option(
    "--default-sns-topic",
    envvar="MODELMON_ALERTING_DEFAULT_SNS_TOPIC",
    help="SNS topic ARN for models whose config names none.",
)
@click.option(
    "--cloudwatch/--no-cloudwatch",
    envvar="MODELMON_ALERTING_CLOUDWATCH",
    default=True,
    show_default=True,
    help="Publish window metrics to CloudWatch (off: no AWS needed).",
)
@click.option(
    "--concurrency",
    envvar="MODELMON_ALERTING_CONCURRENCY",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Deliveries of one event sent at the same time.",
)
@click.option(
    "--dedup-hours",
    envvar="MODELMON_ALERTING_DEDUP_HOURS",
    type=float,
    default=48.0,
    show_default=True,
    help="How long handled event ids are remembered (replays within it are no-ops).",
)
@click.option(
    "--admin-host",
    envvar="MODELMON_ALERTING_ADMIN_HOST",
    default="127.0.0.1",
    show_default=True,
    help="/healthz /readyz /metrics address (0.0.0.0: every interface).",
)
@click.option(
    "--admin-port",
    envvar="MODELMON_ALERTING_ADMIN_PORT",
    type=int,
    default=9108,
    show_default=True,
    help="/healthz /readyz /metrics port (0: any free port).",
)
@click.option(
    "--max-attempts",
    envvar="MODELMON_ALERTING_MAX_ATTEMPTS",
    type=int,
    default=5,
    show_default=True,
    help="Tries per delivery before it is dead-lettered.",
)
@click.option(
    "--backoff-base",
    envvar="MODELMON_ALERTING_BACKOFF_BASE",
    type=float,
    default=0.5,
    show_default=True,
    help="First retry delay in seconds (doubles, with jitter).",
)
@click.option(
    "--backoff-max",
    envvar="MODELMON_ALERTING_BACKOFF_MAX",
    type=float,
    default=30.0,
    show_default=True,
    help="Longest retry delay in seconds.",
)
def command(
    topic: str | None, group: str, default_sns_topic: str | None, cloudwatch: bool,
    concurrency: int, dedup_hours: float, admin_host: str, admin_port: int, max_attempts: int,
    backoff_base: float, backoff_max: float,
) -> None:  # fmt: skip
    """Route alerts and window metrics to CloudWatch, SNS and webhooks, exactly once per route."""
    from prometheus_client import CollectorRegistry

    from modelmon import logs
    from modelmon.alerting.retry import RetryPolicy
    from modelmon.service import AdminServer, StopFlag
    from modelmon.settings import Settings

    from .service import AlertingOptions, AlertingService

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    if max_attempts < 1:
        raise click.BadParameter("must be at least 1", param_hint="--max-attempts")
    options = AlertingOptions(
        topic=topic or settings.topics.alerts,
        group=group,
        default_sns_topic=default_sns_topic or None,
        cloudwatch=cloudwatch,
        dedup_seconds=max(60, int(dedup_hours * 3600)),
        concurrency=concurrency,
        policy=RetryPolicy(
            attempts=max_attempts, base_seconds=backoff_base, max_seconds=backoff_max
        ),
    )
    stop = StopFlag().install()
    registry = CollectorRegistry()
    service = AlertingService(settings, options, stop, registry)
    admin = AdminServer(service.health, registry, admin_host, admin_port).start()
    try:
        service.run()
    finally:
        admin.stop()
