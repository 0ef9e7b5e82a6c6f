"""``modelmon run detector``: evaluate complete windows against baselines, exactly once.

Several detectors may run; each window is evaluated by one of them. See docs/streaming.md and
docs/configuration.md (``MODELMON_DETECTOR__*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from .service import Detector


def build(rt: Runtime) -> Detector:
    from .service import Detector, DetectorOptions

    opts = rt.settings.detector
    options = DetectorOptions(
        topic=opts.topic or rt.settings.topics.capture,
        alerts_topic=opts.alerts_topic or rt.settings.topics.alerts,
        out=opts.out,
        interval_seconds=opts.interval,
    )
    return Detector(rt.settings, options, rt.stop, rt.registry)


command = service_command(
    "detector",
    build,
    help="Evaluate complete windows against each model's baseline; publish results and alerts.",
)
