"""``modelmon demo run``: the whole chain, for real, on the local stack.

Stack up (if it is not) -> topics -> bucket, SNS topic and SQS subscriber -> train and serve
the model -> baseline create / model register / baseline push -> archiver, aggregator,
detector, alerting, capture proxy -> traffic, phase by phase -> alerts printed as they
arrive -> summary of where everything is -> stop what it started, and only that.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from modelmon.demo import resources
from modelmon.demo.attribution import with_explainability
from modelmon.demo.explore import Ticker, look_here, stay_up
from modelmon.demo.model import ADMIN_TOKEN_ENV, switch_version
from modelmon.demo.phases import DEFAULT_VERSION, Phase
from modelmon.demo.receiver import WebhookReceiver
from modelmon.demo.services import ServiceSpec, free_port, new_dashboard, service_specs
from modelmon.demo.setup import (
    Missing,
    create_and_push_baseline,
    create_bias_baseline,
    model_config,
    modelmon_argv,
    write_model_yaml,
)
from modelmon.demo.summary import print_summary
from modelmon.demo.supervisor import Child, Supervisor
from modelmon.demo.traffic import PhaseReport, TrafficGenerator, report_lines, schedule_table
from modelmon.demo.watch import AlertsTopicWatcher, format_alert
from modelmon.errors import ModelmonError
from modelmon.settings import Settings

Echo = Callable[[str], None]


@dataclass
class DemoOptions:
    """What ``modelmon demo run`` was asked to do."""

    phases: list[Phase]
    window_s: int
    rate: float
    model_id: str = "loan-default-demo"
    namespace: str = "modelmon-demo"
    bucket: str = "modelmon-demo"
    runs_dir: Path = Path(".modelmon/demo")
    manage_stack: bool = True
    keep_stack: bool = False
    drain_s: float | None = None
    seed: int = 11
    exit_when_done: bool = False  # else everything stays up until Ctrl-C


@dataclass
class DemoState:
    """What the run started and learned; written to ``run.json`` at the end."""

    run_dir: Path
    started_at: float = field(default_factory=time.time)
    stack_started: bool = False
    model_url: str = ""
    traffic_url: str = ""
    aws: resources.DemoAws | None = None
    services: dict[str, str] = field(default_factory=dict)  # name -> running | missing | failed
    metrics: dict[str, str] = field(default_factory=dict)
    phases: list[PhaseReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    detection: dict[str, float | None] = field(default_factory=dict)


def namespace_env(namespace: str) -> dict[str, str]:
    """Topics, Redis prefix and consumer groups of their own, so a demo's made-up traffic never
    lands in the topics or registry of real models (or another run's) on the same stack."""
    if not namespace:
        return {}
    topics = {f"MODELMON_TOPICS__{t.upper()}": f"{namespace}.{t}.v1" for t in TOPIC_KINDS}
    return {
        **topics,
        "MODELMON_REDIS__KEY_PREFIX": namespace,
        "MODELMON_AGGREGATOR__GROUP": f"{namespace}-aggregator",
        "MODELMON_ALERTING__GROUP": f"{namespace}-alerting",
        "MODELMON_ARCHIVER__GROUP_ID": f"{namespace}-archiver",
        "MODELMON_LABELJOIN__TOPIC": f"{namespace}.labeljoin.v1",
        "MODELMON_LABELJOIN__ROUTER_GROUP": f"{namespace}-labeljoin-router",
        "MODELMON_LABELJOIN__JOIN_GROUP": f"{namespace}-labeljoin",
    }


TOPIC_KINDS = ("capture", "alerts", "deadletter", "labels", "attributions")
#: Seconds between the progress lines printed while traffic runs.
TICK_SECONDS = 5.0


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class DemoRun:
    """One run of the demo; ``run()`` returns the process exit code."""

    def __init__(self, options: DemoOptions, echo: Echo) -> None:
        self.o = options
        self.echo = echo
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.state = DemoState(run_dir=(options.runs_dir / f"{stamp}-{options.model_id}").resolve())
        self.env = self._child_env()
        self.settings = Settings()
        self.children = Supervisor(self.state.run_dir / "logs", self.env)
        self.receiver: WebhookReceiver | None = None
        self.watcher: AlertsTopicWatcher | None = None
        self.alerting_up = False
        self.proxy_port = 0
        self.ticker = Ticker(self, every=TICK_SECONDS)
        self.dashboard = new_dashboard()
        import secrets

        self.model_token = secrets.token_urlsafe(24)  # the model's version switch
        self.model_version = DEFAULT_VERSION

    def _child_env(self) -> dict[str, str]:
        from modelmon.stack import StackConfig, env_vars

        env = dict(os.environ)
        for key, value in env_vars(StackConfig()).items():
            env.setdefault(key, value)
        for key, value in namespace_env(self.o.namespace).items():
            env.setdefault(key, value)  # what the user set explicitly wins
        env.update({"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"})
        os.environ.update({k: v for k, v in env.items() if k not in os.environ})
        return env

    def run(self) -> int:
        signal.signal(signal.SIGTERM, _raise_interrupt)
        self.echo(f"dashboard  {self.dashboard.url}  (live once the services are up)")
        self.state.run_dir.mkdir(parents=True, exist_ok=True)
        self.echo(f"modelmon demo: run directory {self.state.run_dir}")
        self.echo(f"traffic schedule ({self.o.rate:g} requests/s, windows of {self.o.window_s}s):")
        self.echo(schedule_table(self.o.phases))
        try:
            self._set_up()
            self._traffic()
            self._drain()
            print_summary(self, self.echo)
            look_here(self, self.echo)
            if not self.o.exit_when_done:
                stay_up(self, self.echo)
            return 1 if "failed" in self.state.services.values() else 0
        except KeyboardInterrupt:
            self.echo("\ninterrupted: stopping what this demo started")
            return 130
        except ModelmonError as exc:
            self.echo(f"modelmon demo: {exc}")
            return 1
        finally:
            self._tear_down()

    # --- set-up ---------------------------------------------------------------------------

    def _set_up(self) -> None:
        self._stack()
        self._step("topics", self._topics)
        self.state.aws = resources.create(self.settings.aws, self.o.bucket)
        self.echo(f"aws    bucket s3://{self.o.bucket}, SNS {self.state.aws.topic_arn} -> SQS")
        self._listeners()
        # Everything boots at once (2 cores are better than 1); traffic waits for all of it.
        model = self._start_model()
        specs = self._start_services()
        self._await_model(model)
        self._baseline()
        self._await_services(specs)
        self._where()

    def _where(self) -> None:
        from modelmon.config import CloudWatchRoute

        aws, model_id = self.state.aws, self.o.model_id
        assert aws is not None
        self.echo(f"where  capture archive  s3://{aws.bucket}/capture/{model_id}/AllTraffic/")
        self.echo(f"       reports          s3://{aws.bucket}/reports/{model_id}/modelmon-demo/")
        self.echo(
            f"       CloudWatch       {CloudWatchRoute().namespace} (Endpoint={model_id}) "
            f"on {self.settings.aws.endpoint_url or 'AWS'}"
        )
        self.echo(f"       SNS -> SQS       {aws.topic_arn} -> {aws.queue_url}")
        topics = self.settings.topics
        self.echo(
            f"       Kafka topics     {topics.capture}, {topics.alerts}, {topics.deadletter} "
            f"(Redis prefix {self.settings.redis.key_prefix})"
        )
        for name, url in self.state.metrics.items():
            self.echo(f"       Prometheus       {url} ({name})")
        if self.state.services.get("api") == "running":
            self.echo(f"       dashboard        {self.dashboard.url}")
        self.echo(f"       logs             {self.children.log_dir}")

    def _step(self, name: str, action: Callable[[], str]) -> None:
        self.echo(f"{name:6} {action()}")

    def _stack(self) -> None:
        from modelmon.stack import StackConfig, status, up

        if not self.o.manage_stack:
            self.echo("stack  using the running stack (--no-stack)")
            return
        cfg = StackConfig()
        if status(cfg).all_running:
            self.echo("stack  already up: using it (and leaving it up)")
            return
        self.echo("stack  starting Apache Kafka, Redis and moto (first run fetches Kafka)...")
        self.state.stack_started = True
        up(cfg, self.settings.topics, report=lambda line: self.echo(f"  {line}"))

    def _topics(self) -> str:
        from modelmon.adapters.kafka import ensure_topics, make_admin

        made = ensure_topics(make_admin(self.settings.kafka), self.settings.topics)
        return ", ".join(f"{name} ({parts})" for name, parts in made.items())

    def _listeners(self) -> None:
        t0 = self.state.started_at
        self.receiver = WebhookReceiver(
            self.state.run_dir / "notifications.jsonl",
            lambda alert: self.echo(format_alert(alert, t0)),
        )
        self.receiver.start()

        def raw(alert: dict[str, Any]) -> None:
            if not self.alerting_up:
                self.echo(format_alert(alert, t0) + "  (detector)")

        self.watcher = AlertsTopicWatcher(
            self.settings, self.o.model_id, self.state.run_dir / "alerts-topic.jsonl", raw
        )
        self.watcher.start()

    def _start_model(self) -> Child:
        port = free_port()
        data = self.state.run_dir / "data"
        argv = modelmon_argv("demo", "serve-model", "--port", str(port), "--data-dir", str(data))
        self.state.model_url = f"http://127.0.0.1:{port}/invocations"
        self.echo(f"model  training a scikit-learn classifier to serve on port {port}...")
        return self.children.start("model", argv, {ADMIN_TOKEN_ENV: self.model_token})

    def _await_model(self, child: Child) -> None:
        ping = self.state.model_url.replace("/invocations", "/ping")
        self.children.wait_http(child, ping, timeout=180)
        self.state.services["model"] = "running"
        data = self.state.run_dir / "data"
        self.echo(f"model  ready: {self.state.model_url} (training set {data / 'training.csv'})")

    def _baseline(self) -> None:
        run_dir = self.state.run_dir
        assert self.receiver is not None and self.state.aws is not None
        # a window is scored once 60% of its predictions have their label (at least 100)
        min_labels = max(100, int(0.6 * self.o.window_s * self.o.rate))
        bias = self._bias_baseline()
        config = model_config(
            self.o.model_id, self.o.window_s, self.receiver.url, self.state.aws.topic_arn,
            min_labels, bias,
        )  # fmt: skip
        config = with_explainability(config)  # the attribution baseline: docs/attribution.md
        config_file = write_model_yaml(config, run_dir / "model.yaml")
        try:
            lines = create_and_push_baseline(
                run_dir / "data" / "baseline.csv",
                run_dir / "baseline",
                config_file,
                self.o.model_id,
                self.env,
                run_dir / "logs" / "setup.log",
            )
        except Missing as exc:
            self._note(f"NOT AVAILABLE YET: {exc}; no baseline, so no drift checks this run")
            return
        for line in lines:
            self.echo(f"setup  {line}")

    def _bias_baseline(self) -> Any:
        """The bias section (``baseline create --analysis bias`` on the model's joined rows)."""
        run_dir = self.state.run_dir
        try:
            bias, line = create_bias_baseline(
                run_dir / "data" / "joined.csv", run_dir / "bias_baseline", self.env,
                run_dir / "logs" / "setup.log",
            )  # fmt: skip
        except ModelmonError as exc:
            self._note(f"no bias baseline, so no bias drift checks this run: {exc}")
            return None
        self.echo(f"setup  {line}")
        return bias

    def _switch_model(self, phase: Phase) -> None:
        """Serve the phase's model version (the incident deploys v2) when it changes."""
        wanted = phase.model_version
        if wanted == self.model_version:
            return
        base = self.state.model_url.removesuffix("/invocations")
        try:
            switch_version(base, self.model_token, wanted)
        except OSError as exc:
            self._note(f"could not switch the model to {wanted}: {exc}")
            return
        self.model_version = wanted
        self.echo(f"model  now serving version {wanted}")

    def _start_services(self) -> list[tuple[ServiceSpec, Child]]:
        aws = self.state.aws
        assert aws is not None
        self.proxy_port = free_port()
        specs = service_specs(
            self.o.model_id,
            self.state.model_url.removesuffix("/invocations"),
            self.proxy_port,
            f"s3://{aws.bucket}/capture",
            f"s3://{aws.bucket}/reports",
            attributions=any(p.shortcut for p in self.o.phases),  # docs/attribution.md
        )
        started = []
        for spec in [self.dashboard.spec(f"s3://{aws.bucket}/capture"), *specs]:
            if not spec.available:
                self.state.services[spec.name] = "missing"
                self._note(f"NOT AVAILABLE YET: service {spec.name} ({spec.role})")
                continue
            started.append((spec, self.children.start(spec.name, spec.argv, spec.env)))
        return started

    def _await_services(self, started: list[tuple[ServiceSpec, Child]]) -> None:
        for spec, child in started:
            if spec.ready_url:
                self.children.wait_http(child, spec.ready_url, timeout=120)
            self.state.services[spec.name] = "running"
            if spec.metrics_url:
                self.state.metrics[spec.name] = spec.metrics_url
            self.echo(f"ready  {spec.name:<14} pid {child.pid:<7} {spec.role}")
        proxied = self.state.services.get("capture-proxy") == "running"
        self.state.traffic_url = (
            f"http://127.0.0.1:{self.proxy_port}/invocations" if proxied else self.state.model_url
        )
        self.alerting_up = self.state.services.get("alerting") == "running"
        if not proxied:
            self._note("capture-proxy missing: traffic goes straight to the model, uncaptured")

    def _note(self, text: str) -> None:
        self.state.notes.append(text)
        self.echo(f"NOTE   {text}")

    # --- traffic and after ------------------------------------------------------------------

    def _traffic(self) -> None:
        t0 = self.state.started_at
        record = self.state.run_dir / "traffic.jsonl"

        def on_phase(report: PhaseReport, done: bool) -> None:
            if done:
                with record.open("a") as handle:
                    handle.write(report_lines([report])[0] + "\n")
                self.echo(
                    f"[{time.time() - t0:5.0f}s] phase {report.name} done: {report.ok} ok, "
                    f"{report.failed} failed {report.statuses}"
                )
            else:
                self._switch_model(self.o.phases[len(self.state.phases) - 1])
                self.echo(f"[{time.time() - t0:5.0f}s] phase {report.name}: {report.description}")
            self._check_children()

        labels = self._label_client()
        explained = self._attribution_publisher()
        generator = TrafficGenerator(
            self.state.traffic_url,
            self.o.phases,
            self.o.rate,
            seed=self.o.seed,
            id_prefix=f"{self.o.model_id}-{int(t0)}",
            ids_file=self.state.run_dir / "inference-ids.tsv",
            on_phase=on_phase,
            on_label=(lambda i, v: labels.label(i, v) and None) if labels else None,
            label_delay_s=self.o.window_s / 2,
            on_answer=(lambda i, body, phase: explained.publish(i, body, phase.shortcut))
            if explained
            else None,
        )
        self.echo(f"traffic -> {self.state.traffic_url}")
        if labels is not None:
            self.echo(f"labels  the ground truth of each answer, {self.o.window_s / 2:g}s later "
                      f"-> {self.settings.topics.labels}")  # fmt: skip
        self.state.phases = generator.reports
        self.ticker.start()
        try:
            asyncio.run(generator.run())
        finally:
            if labels is not None:
                labels.close(10)
            if explained is not None:
                explained.close(10)

    def _attribution_publisher(self) -> Any:
        """Publishes each answer's attributions (None without the attributions aggregator)."""
        if self.state.services.get("aggregator-attributions") != "running":
            return None
        if not any(p.shortcut for p in self.o.phases):
            return None  # no attribution incident in this schedule: nothing to show
        from modelmon.demo.attribution import AttributionPublisher, DemoExplainer

        return AttributionPublisher(self.o.model_id, self.settings, DemoExplainer.fit())

    def _label_client(self) -> Any:
        """The SDK client that sends the delayed labels (None without the label join)."""
        if self.state.services.get("labeljoin") != "running":
            return None
        from modelmon.capture import CaptureClient

        return CaptureClient(self.o.model_id, settings=self.settings)

    def _check_children(self) -> None:
        """Say so when a service died; without alerting, fall back to the detector's alerts."""
        for child in self.children.exited():
            if self.state.services.get(child.name) == "running":
                self.state.services[child.name] = "failed"
                self._note(f"{child.name} exited ({child.process.returncode}); see {child.log}")
                if child.name == "alerting":
                    self.alerting_up = False
                    self._note("printing the detector's raw alerts from now on")

    def _drain(self) -> None:
        drain = self.o.drain_s
        if drain is None:
            drain = 2 * self.o.window_s + max(2, self.o.window_s // 2) + 10
        self.echo(f"traffic done; waiting {drain:.0f}s for the last windows to close...")
        time.sleep(drain)
        self.ticker.stop()
        self._check_children()

    def _tear_down(self) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.ticker.stop()
        self.echo("stopping:")
        self.children.stop_all(report=self.echo)
        if self.watcher:
            self.watcher.stop()
        if self.receiver:
            self.receiver.stop()
        self._write_record()
        if self.state.stack_started and not self.o.keep_stack:
            from modelmon.stack import StackConfig, down

            self.echo("  stopping the stack this demo started (--keep-stack leaves it up)")
            down(StackConfig(), report=lambda line: self.echo(f"  {line}"))
        self.echo(f"logs and records: {self.state.run_dir}")

    def _write_record(self) -> None:
        record = {
            "model_id": self.o.model_id,
            "window_s": self.o.window_s,
            "rate": self.o.rate,
            "started_at": self.state.started_at,
            "model_url": self.state.model_url,
            "traffic_url": self.state.traffic_url,
            "aws": asdict(self.state.aws) if self.state.aws else None,
            "services": self.state.services,
            "metrics": self.state.metrics,
            "phases": [asdict(p) for p in self.state.phases],
            "schedule": [asdict(p) for p in self.o.phases],
            "notes": self.state.notes,
            "detection": self.state.detection,
        }
        (self.state.run_dir / "run.json").write_text(json.dumps(record, indent=2, default=str))
