"""What the demo leaves to explore: a live ticker while traffic runs, and "look here" at the end.

The ticker prints, every few seconds, the requests sent (and the rate), the windows the
detector has evaluated and the alerts so far, so the normal phase is never silent. At the
end the demo fetches the report of the incident's first violated window into the run
directory and prints the addresses and commands that work while the demo stays up.
"""

from __future__ import annotations

import shlex
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from modelmon.demo.runner import DemoRun

Echo = Callable[[str], None]
INCIDENT_REPORT = "incident-report.html"


class Ticker:
    """A daemon thread printing one progress line every ``every`` seconds."""

    def __init__(self, run: DemoRun, every: float) -> None:
        self._run, self._every = run, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="demo-ticker")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _loop(self) -> None:
        last_sent, last_t = 0, time.monotonic()
        while not self._stop.wait(self._every):
            now = time.monotonic()
            sent = sum(p.sent for p in self._run.state.phases)
            self._run.echo(self.line(sent, (sent - last_sent) / max(now - last_t, 1e-9)))
            last_sent, last_t = sent, now

    def line(self, sent: int, rate: float) -> str:
        run = self._run
        watcher = run.watcher
        windows = len(watcher.windows) if watcher else 0
        alerts = len(watcher.alerts) if watcher else 0
        phase = run.state.phases[-1].name if run.state.phases else "-"
        elapsed = time.time() - run.state.started_at
        return (
            f"[{elapsed:5.0f}s] {phase:<10} {sent:6d} requests ({rate:5.1f}/s)   "
            f"{windows:3d} windows evaluated   {alerts:3d} alerts"
        )


def incident_window(windows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first single (not rolling) window result with a violated check."""
    results = [w.get("result", {}) for w in windows]
    bad = [
        r
        for r in results
        if r.get("rolling_windows", 1) == 1 and any(c.get("violated") for c in r.get("checks", []))
    ]
    return min(bad, key=lambda r: str(r.get("window_start"))) if bad else None


def fetch_report(run: DemoRun, result: dict[str, Any]) -> Path | None:
    """Copy the window's report.html from S3 into the run directory."""
    from modelmon.adapters.aws import boto_client
    from modelmon.streaming.window_report import REPORT_FILE

    uri = str(result.get("report_uri") or "")
    if not uri.startswith("s3://"):
        return None
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    try:
        body = (
            boto_client(run.settings.aws, "s3")
            .get_object(Bucket=bucket, Key=prefix.rstrip("/") + "/" + REPORT_FILE)["Body"]
            .read()
        )
    except Exception as exc:  # noqa: BLE001 - a missing report is said, never fatal
        run.echo(f"NOTE     no report.html at {uri} ({type(exc).__name__})")
        return None
    target = run.state.run_dir / INCIDENT_REPORT
    target.write_bytes(body)
    return target


def look_here(run: DemoRun, echo: Echo) -> None:
    """The closing block: the incident report, and what to run while everything stays up."""
    aws, model_id, settings = run.state.aws, run.o.model_id, run.settings
    echo("\n=== look here (all of it live while the demo runs) ===")
    echo(f"dashboard         {run.dashboard.url}")
    incident = incident_window(run.watcher.windows if run.watcher else [])
    if incident is not None:
        path = fetch_report(run, incident)
        if path is not None:
            echo(f"incident report   file://{path}")
            echo(f"                  window {incident['window_start']} .. {incident['window_end']}")
    env = _env_prefix(run)
    tool = "modelmon"
    echo(f"tail alerts       {env}{tool} alerts tail --model {model_id} --windows")
    if aws is not None:
        reports = f"s3://{aws.bucket}/reports"
        echo(f"list reports      {env}{tool} report --model {model_id} --from {reports} --list")
        if incident is not None:
            echo(
                f"any window        {env}{tool} report --model {model_id} --from {reports} "
                f"--window {incident['window_start']}"
            )
    echo(f"model             {run.state.model_url}")
    if run.state.traffic_url != run.state.model_url:
        echo(f"capture proxy     {run.state.traffic_url}")
    for name, url in run.state.metrics.items():
        echo(f"prometheus        {url} ({name})")
    if settings.aws.endpoint_url:
        echo(f"AWS emulator      {settings.aws.endpoint_url}")


def _env_prefix(run: DemoRun) -> str:
    """The settings a command in another shell needs to see the demo's topics, keys and the
    AWS emulator. Credentials are shown only when they are the stack's dummy ones for the
    emulator: a user's own are never printed."""
    from modelmon.settings import KafkaSettings, RedisSettings
    from modelmon.stack import StackConfig, env_vars

    keys = ["MODELMON_TOPICS__ALERTS", "MODELMON_REDIS__KEY_PREFIX", "AWS_ENDPOINT_URL"]
    # where Kafka and Redis are, unless they are the defaults (a stack on other ports); never
    # a Redis URL that carries a password
    if run.settings.kafka.bootstrap_servers != KafkaSettings().bootstrap_servers:
        keys.append("MODELMON_KAFKA__BOOTSTRAP_SERVERS")
    url = run.settings.redis.url
    if url != RedisSettings().url and urlsplit(url).password is None:
        keys.append("MODELMON_REDIS__URL")
    dummy = env_vars(StackConfig())
    keys += [
        k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if run.env.get(k) == dummy[k]
    ]
    values = {
        **run.env,
        "MODELMON_KAFKA__BOOTSTRAP_SERVERS": run.settings.kafka.bootstrap_servers,
        "MODELMON_REDIS__URL": url,
    }
    pairs = [f"{k}={shlex.quote(values[k])}" for k in keys if values.get(k)]
    return " ".join(pairs) + " " if pairs else ""


def stay_up(run: DemoRun, echo: Echo) -> None:
    """Keep everything running until Ctrl-C (or SIGTERM); say when a service dies."""
    echo("\neverything stays up: press Ctrl-C to stop the services (and a stack this demo started)")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with it ignored
    try:
        while True:
            time.sleep(1.0)
            run._check_children()
    except KeyboardInterrupt:
        echo("")
