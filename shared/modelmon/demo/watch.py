"""Follow the alerts topic for one model and print alerts as they happen.

The detector produces one ``AlertEvent`` per violated check per window, and one
``WindowEvaluated`` per window, to ``modelmon.alerts.v1``. The watcher records every one of
them for this model (JSON Lines in the run directory) and, when the alerting service is not
running, prints the raw alerts so the demo still shows what the detector found.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelmon.alerting.formatting import comparison_operator
from modelmon.settings import Settings

log = logging.getLogger(__name__)


def format_alert(alert: dict[str, Any], t0: float) -> str:
    """``[  63s] ALARM    baseline_drift_check     income        0.41 > 0.1 (linf_robust)``."""
    state = "RESOLVED" if alert.get("state") == "OK" else "ALARM"
    value, threshold = alert.get("value"), alert.get("threshold")
    cmp = ""
    if value is not None:
        op = comparison_operator(str(alert.get("check_type")), state == "ALARM")
        cmp = f"{value:.4g}" + (f" {op} {threshold:.4g}" if threshold is not None else "")
    if alert.get("method"):
        cmp += f" ({alert['method']})"
    window = f"{_hms(alert.get('window_start'))}-{_hms(alert.get('window_end'))}"
    elapsed = time.time() - t0
    return (
        f"[{elapsed:5.0f}s] {state:<8} {alert.get('check_type', '?'):<25} "
        f"{alert.get('feature', '?'):<14} {cmp:<32} window {window}"
    )


def _hms(stamp: Any) -> str:
    text = str(stamp or "")
    return text[11:19] if len(text) >= 19 else text


class AlertsTopicWatcher:
    """A consumer (its own group) of the alerts topic, in a daemon thread."""

    def __init__(
        self,
        settings: Settings,
        model_id: str,
        record: Path,
        on_alert: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.model_id = model_id
        self.record = record
        self.on_alert = on_alert
        self.alerts: list[dict[str, Any]] = []
        self.windows: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="alerts-watch")
        self._since_ms = int(time.time() * 1000)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        from modelmon.adapters.kafka import make_consumer

        group = f"modelmon-demo-watch-{uuid.uuid4().hex[:8]}"
        consumer = make_consumer(self.settings.kafka, group, **{"auto.offset.reset": "earliest"})
        consumer.subscribe([self.settings.topics.alerts])
        try:
            with self.record.open("a") as out:
                while not self._stop.is_set():
                    for msg in consumer.consume(500, 0.5):
                        # Earlier runs of the same model id are on the topic too: skip them.
                        if msg.error() is None and msg.timestamp()[1] >= self._since_ms:
                            self._accept(msg.value(), out)
        except Exception:
            log.exception("alerts watcher stopped")
        finally:
            consumer.close()

    def _accept(self, raw: bytes | None, out: Any) -> None:
        try:
            doc = json.loads(raw or b"")
        except ValueError:
            return
        if not isinstance(doc, dict) or doc.get("model_id") != self.model_id:
            return
        out.write(json.dumps({**doc, "received_at": time.time()}) + "\n")
        out.flush()
        if doc.get("type") == "window_evaluated":
            self.windows.append(doc)
        elif doc.get("type", "alert") == "alert":
            self.alerts.append(doc)
            if self.on_alert:
                self.on_alert(doc)
