"""The end-of-run summary: what was sent, what fired, and where reports and metrics are."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelmon.config import CloudWatchRoute
from modelmon.demo import resources

if TYPE_CHECKING:
    from modelmon.demo.phases import Phase
    from modelmon.demo.runner import DemoRun
    from modelmon.demo.traffic import PhaseReport

Echo = Callable[[str], None]


def _alert_counts(alerts: list[dict[str, Any]]) -> list[str]:
    counts = Counter(
        (a.get("check_type", "?"), a.get("feature", "?"), a.get("state", "ALARM")) for a in alerts
    )
    return [
        f"    {check:<25} {feature:<14} {'RESOLVED' if state == 'OK' else state:<8} x{n}"
        for (check, feature, state), n in sorted(counts.items())
    ]


def detection_delays(
    schedule: list[Phase], reports: list[PhaseReport], alerts: list[dict[str, Any]]
) -> dict[str, float | None]:
    """Seconds from the first faulty phase's start to the first ALARM, and from the next
    normal phase's start to the last RESOLVED (None when it did not happen)."""
    ran = list(zip(schedule, reports, strict=False))
    bad = next((i for i, (phase, _) in enumerate(ran) if not phase.is_normal), None)
    back = next((r for p, r in ran[(bad or 0) + 1 :] if p.is_normal), None)
    alarms = [a["received_at"] for a in alerts if a.get("state") == "ALARM"]
    resolved = [a["received_at"] for a in alerts if a.get("state") == "OK"]
    return {
        "first_alarm_s": (
            min(alarms) - ran[bad][1].started_at if bad is not None and alarms else None
        ),
        "last_resolved_s": max(resolved) - back.started_at if back and resolved else None,
    }


def print_summary(run: DemoRun, echo: Echo) -> None:
    """Print the run's figures and the places to look next."""
    state, model_id = run.state, run.o.model_id
    echo("\n=== summary ===")
    for p in state.phases:
        echo(f"traffic  {p.name:<10} {p.ok} ok / {p.sent} sent  ({p.description})")
    notes = run.receiver.received if run.receiver else []
    raw = run.watcher.alerts if run.watcher else []
    windows = run.watcher.windows if run.watcher else []
    echo(f"windows evaluated by the detector: {len(windows)}; raw alerts on the topic: {len(raw)}")
    echo(f"notifications (state changes) delivered to the webhook: {len(notes)}")
    shown = notes if run.alerting_up else raw
    echo("\n".join(_alert_counts(shown)) or "    (none)")
    delays = detection_delays(run.o.phases, state.phases, shown)
    state.detection = delays
    if delays["first_alarm_s"] is not None:
        echo(f"detection: first ALARM {delays['first_alarm_s']:.1f}s after the incident began")
    if delays["last_resolved_s"] is not None:
        echo(f"           last RESOLVED {delays['last_resolved_s']:.1f}s after traffic was normal")
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _where(run, echo)
    except (BotoCoreError, ClientError) as exc:  # a slow emulator must not end the demo here
        echo(f"NOTE     could not list the archive, reports or metrics: {exc}")
    for note in state.notes:
        echo(f"NOTE     {note}")
    topics, aws = run.settings.topics, state.aws
    echo(f"see also: modelmon alerts tail --topic {topics.alerts} --model {model_id} --windows")
    if aws is not None:
        source = f"s3://{aws.bucket}/capture"
        echo(f"          modelmon capture read --source {source} --model {model_id}")


def _where(run: DemoRun, echo: Echo) -> None:
    aws, model_id, settings = run.state.aws, run.o.model_id, run.settings
    if aws is None:
        return
    since = run.state.started_at - 1
    archived = resources.count_objects(settings.aws, aws.bucket, f"capture/{model_id}/", since)
    reports = resources.count_objects(settings.aws, aws.bucket, f"reports/{model_id}/", since)
    echo(
        f"archive  s3://{aws.bucket}/capture/{model_id}/  "
        f"({archived[0]} files, {archived[1]:,} B written by this run)"
    )
    echo(f"reports  s3://{aws.bucket}/reports/{model_id}/  ({reports[0]} files by this run)")
    namespace = CloudWatchRoute().namespace
    names = resources.metric_names(settings.aws, namespace, model_id)
    shown = ", ".join(names[:6]) + (" ..." if len(names) > 6 else "")
    echo(f"metrics  CloudWatch namespace {namespace}, Endpoint={model_id}: {len(names)} metrics")
    if names:
        echo(f"         {shown}")
    delivered = resources.drain_queue(settings.aws, aws.queue_url)
    echo(f"SNS      {aws.topic_arn} -> SQS {aws.queue_url}: {len(delivered)} messages")
    for name, url in run.state.metrics.items():
        echo(f"prometheus {name:<14} {url}")
    echo(
        f"AWS emulator: {settings.aws.endpoint_url} (aws --endpoint-url ... s3 ls s3://{aws.bucket})"
    )
