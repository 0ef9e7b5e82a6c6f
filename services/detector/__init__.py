"""``modelmon run detector``: evaluate complete windows against baselines, exactly once.

Several detectors may run; each window is evaluated by one of them. Options also read
``MODELMON_DETECTOR_*`` variables. See docs/streaming.md.
"""

from __future__ import annotations

import click


@click.command(name="detector")
@click.option("--topic", envvar="MODELMON_DETECTOR_TOPIC", help="Default: the capture topic.")
@click.option(
    "--alerts-topic", envvar="MODELMON_DETECTOR_ALERTS_TOPIC", help="Default: the alerts topic."
)
@click.option(
    "--out", envvar="MODELMON_DETECTOR_OUT",
    help="Directory or s3://bucket/prefix for statistics.json and constraint_violations.json.",
)  # fmt: skip
@click.option(
    "--interval", envvar="MODELMON_DETECTOR_INTERVAL", type=float, default=0.5,
    show_default=True, help="Seconds between passes over the windows.",
)  # fmt: skip
@click.option(
    "--admin-host", envvar="MODELMON_DETECTOR_ADMIN_HOST", default="127.0.0.1",
    show_default=True, help="/healthz /readyz /metrics address (0.0.0.0: every interface).",
)  # fmt: skip
@click.option(
    "--admin-port", envvar="MODELMON_DETECTOR_ADMIN_PORT", type=int, default=9111,
    show_default=True, help="/healthz /readyz /metrics port (0: any free port).",
)  # fmt: skip
def command(
    topic: str | None, alerts_topic: str | None, out: str | None, interval: float,
    admin_host: str, admin_port: int,
) -> None:  # fmt: skip
    """Evaluate complete windows against each model's baseline; publish results and alerts."""
    from prometheus_client import CollectorRegistry

    from modelmon import logs
    from modelmon.service import AdminServer, StopFlag
    from modelmon.settings import Settings

    from .service import Detector, DetectorOptions

    settings = Settings()
    logs.configure(settings.log_level, settings.log_json)
    options = DetectorOptions(
        topic=topic or settings.topics.capture,
        alerts_topic=alerts_topic or settings.topics.alerts,
        out=out,
        interval_seconds=interval,
    )
    stop = StopFlag().install()
    registry = CollectorRegistry()
    service = Detector(settings, options, stop, registry)
    admin = AdminServer(service.health, registry, admin_host, admin_port).start()
    try:
        service.run()
    finally:
        admin.stop()
