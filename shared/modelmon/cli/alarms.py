"""``modelmon alarms create | list | delete``: CloudWatch alarms on a model's metrics.

For users on real AWS who want CloudWatch alarms (with SNS actions) on the metrics the
alerting service publishes under SageMaker's names. modelmon itself does not rely on them.
"""

from __future__ import annotations

from typing import Any

import click


@click.group()
def alarms() -> None:
    """Create, list and delete CloudWatch alarms on a model's metrics."""


def _cloudwatch() -> Any:
    from modelmon.adapters.aws import boto_client
    from modelmon.settings import Settings

    return boto_client(Settings().aws, "cloudwatch")


def _model(model_id: str) -> tuple[Any, list[str]]:
    """The model's config (registered, else defaults) and the features known for it."""
    from modelmon.adapters.redis import make_redis
    from modelmon.alerting.alarms import baseline_features
    from modelmon.cli.reach import fail, redis_down
    from modelmon.config import ModelConfig
    from modelmon.errors import DependencyUnavailableError
    from modelmon.keys import Keys
    from modelmon.registry import Registry
    from modelmon.settings import Settings

    settings = Settings()
    registry = Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix))
    try:
        entry = registry.get(model_id)
    except DependencyUnavailableError:
        fail("alarms", redis_down(settings.redis.url))
    config = entry.config if entry else ModelConfig(model_id=model_id)
    features = [f.name for f in config.features if f.monitored]
    if not features and entry is not None and entry.has_baseline:
        files = registry.baseline_files(model_id) or {}
        features = baseline_features(files.get("statistics.json", b"{}"))
    return config, features


def _published_features(cw: Any, config: Any) -> list[str]:
    """Features with a drift metric already in CloudWatch for this endpoint and schedule."""
    from modelmon.alerting.cloudwatch import dimensions

    route = config.alerts.cloudwatch
    dims = [{"Name": n, "Value": v} for n, v in dimensions(config.model_id, route, config)]
    prefix = "feature_baseline_drift_"
    names: set[str] = set()
    for page in cw.get_paginator("list_metrics").paginate(
        Namespace=route.namespace, Dimensions=dims
    ):
        names.update(
            m["MetricName"][len(prefix) :]
            for m in page["Metrics"]
            if m["MetricName"].startswith(prefix)
        )
    return sorted(names)


@alarms.command()
@click.option("--model", "model_id", required=True, help="Model id.")
@click.option("--sns-topic", required=True, help="SNS topic ARN for the alarm and OK actions.")
@click.option(
    "--feature",
    "features",
    multiple=True,
    help="Feature (repeatable). Default: "
    "the config's features, else the baseline's, else those with published metrics.",
)
@click.option(
    "--evaluation-periods",
    type=int,
    default=1,
    show_default=True,
    help="Windows in a row that must breach.",
)
@click.option("--dry-run", is_flag=True, help="Print the alarms without creating them.")
def create(
    model_id: str,
    sns_topic: str,
    features: tuple[str, ...],
    evaluation_periods: int,
    dry_run: bool,
) -> None:
    """Create (or update) the model's alarms; running it again changes nothing."""
    from modelmon.alerting.alarms import alarm_specs
    from modelmon.attribution.alarms import attribution_alarm_specs
    from modelmon.bias.alarms import bias_alarm_specs
    from modelmon.quality.alarms import quality_alarm_specs

    config, known = _model(model_id)
    cw = _cloudwatch()
    quality = quality_alarm_specs(config, [sns_topic], evaluation_periods)
    quality += bias_alarm_specs(config, [sns_topic], evaluation_periods)
    quality += attribution_alarm_specs(config, [sns_topic], evaluation_periods)
    chosen = list(features) or known or _published_features(cw, config)
    if not chosen and not quality:
        raise click.ClickException(
            f"no features known for {model_id}: pass --feature, list features in its config, "
            "push a baseline, or let the alerting service publish metrics first"
        )
    specs = alarm_specs(config, chosen, [sns_topic], evaluation_periods) if chosen else []
    specs += quality
    for spec in specs:
        if not dry_run:
            cw.put_metric_alarm(**spec)
        watched = (  # a bias alarm watches a metric-math expression
            f"{spec['MetricName']} {spec['Statistic']}"
            if "MetricName" in spec
            else spec["Metrics"][-1]["Label"]
        )
        click.echo(
            f"{'would create' if dry_run else 'created'} {spec['AlarmName']}: "
            f"{watched} {spec['ComparisonOperator']} {spec['Threshold']}"
        )


def _alarms(cw: Any, model_id: str) -> list[dict[str, Any]]:
    from modelmon.alerting.alarms import alarm_prefix

    found: list[dict[str, Any]] = []
    paginator = cw.get_paginator("describe_alarms")
    for page in paginator.paginate(
        AlarmNamePrefix=alarm_prefix(model_id), AlarmTypes=["MetricAlarm"]
    ):
        found.extend(page["MetricAlarms"])
    return found


@alarms.command("list")
@click.option("--model", "model_id", required=True, help="Model id.")
def list_alarms(model_id: str) -> None:
    """Show the model's alarms: name, state, metric, threshold, actions."""
    for alarm in _alarms(_cloudwatch(), model_id):
        click.echo(
            f"{alarm['AlarmName']}\t{alarm.get('StateValue', '?')}\t{alarm['MetricName']}"
            f"\t{alarm['ComparisonOperator']} {alarm['Threshold']}"
            f"\t{','.join(alarm.get('AlarmActions', []))}"
        )


@alarms.command()
@click.option("--model", "model_id", required=True, help="Model id.")
def delete(model_id: str) -> None:
    """Delete every alarm this command created for the model."""
    cw = _cloudwatch()
    names = [a["AlarmName"] for a in _alarms(cw, model_id)]
    for start in range(0, len(names), 100):
        cw.delete_alarms(AlarmNames=names[start : start + 100])
    click.echo(f"deleted {len(names)} alarm(s) of {model_id}")
