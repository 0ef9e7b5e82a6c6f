"""The capture proxy in front of a real scikit-learn model server on loopback."""

from __future__ import annotations

import asyncio
import base64
import gzip
import http.client
import json
import os
import re
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from sklearn.linear_model import LogisticRegression

from modelmon.adapters.kafka import make_producer
from modelmon.capture.client import CaptureClient
from modelmon.events import DeadLetterRecord
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings
from modelmon_services.capture_proxy.app import RUNNER_OPTIONS, CaptureProxy, make_apps
from modelmon_services.capture_proxy.capture import ContentTypes

from .test_archiver import (
    ArchiverProcess,
    archiver,
    archiver_env,
    consume_all,
    s3_records,
    topic_settings,
)

__all__ = ["archiver"]  # the fixture, re-used
ROOT = Path(__file__).resolve().parents[2]
FEATURES = ["age", "income", "tenure"]


def _model() -> LogisticRegression:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return LogisticRegression().fit(x, y)


def model_server() -> web.Application:
    """A small model server: JSON and CSV invocations, plus 4xx/5xx and odd responses."""
    model = _model()

    async def invocations(request: web.Request) -> web.Response:
        body = await request.read()
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("text/csv"):
            rows = [[float(c) for c in line.split(",")] for line in body.decode().splitlines()]
            probs = model.predict_proba(np.array(rows))[:, 1]
            text = "\n".join(f"{p:.6f}" for p in probs)
            return web.Response(text=text, content_type="text/csv", charset="utf-8")
        try:
            doc = json.loads(body)
            rows = [[inst[f] for f in FEATURES] for inst in doc["instances"]]
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"bad request: {exc}"}, status=400)
        probs = model.predict_proba(np.array(rows, dtype=float))[:, 1]
        preds = [{"predicted_label": int(p > 0.5), "score": round(float(p), 6)} for p in probs]
        return web.Response(
            body=json.dumps({"predictions": preds}).encode(),
            headers={"Content-Type": "application/json", "X-Model-Version": "7"},
        )

    async def boom(request: web.Request) -> web.Response:
        return web.Response(status=503, text="overloaded\n", headers={"Retry-After": "3"})

    async def ping(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x01binary", content_type="application/octet-stream")

    app = web.Application()
    app.router.add_post("/invocations", invocations)
    app.router.add_route("*", "/boom", boom)
    app.router.add_get("/ping", ping)
    return app


class LoopThread:
    """aiohttp applications served from an event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runners: list[web.AppRunner] = []

    def serve(self, app: web.Application, port: int = 0, **options: Any) -> int:
        async def start() -> int:
            runner = web.AppRunner(app, **{"access_log": None, **options})
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", port)
            await site.start()
            self.runners.append(runner)
            return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    def close(self) -> None:
        async def stop() -> None:
            for runner in reversed(self.runners):
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    lt = LoopThread()
    yield lt
    lt.close()


def start_proxy(
    lt: LoopThread, settings: Settings, upstream: str, model: str
) -> tuple[int, int, CaptureProxy]:
    registry = CollectorRegistry()
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v), settings.topics.deadletter,
        "capture-proxy", registry,
    )  # fmt: skip
    client = CaptureClient(model, settings=settings)
    proxy = CaptureProxy(upstream, client, dead, registry, types=ContentTypes(),
                         feature_names=settings.capture.feature_names.get(model))  # fmt: skip
    health = Health()
    health.set_ready(True)
    app, admin = make_apps(proxy, health, registry)
    return lt.serve(app, **RUNNER_OPTIONS), lt.serve(admin), proxy


Answer = tuple[int, str, list[tuple[str, str]], bytes]


def call(port: int, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, host: str = "127.0.0.1") -> Answer:  # fmt: skip
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    out = (resp.status, resp.reason, resp.getheaders(), resp.read())
    conn.close()
    return out


def _comparable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in headers if k.lower() not in ("date", "server"))


GZ_BODY = gzip.compress(b'{"instances": [{"age": 1, "income": 2, "tenure": 3}]}', mtime=0)
REQUESTS: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("POST", "/invocations", b'{"instances": [{"age": 0.3, "income": -1.2, "tenure": 2.0}]}',
     {"Content-Type": "application/json", "X-Inference-Id": "req-1"}),
    ("POST", "/invocations", b"0.5,1.5,2.0\n-1,-2,0.1", {"Content-Type": "text/csv"}),
    ("POST", "/invocations", b'{"instances": [{"age": 1}]}', {"Content-Type": "application/json"}),
    ("POST", "/invocations", b"{oops", {"Content-Type": "application/json"}),
    ("POST", "/invocations", GZ_BODY,
     {"Content-Type": "application/json", "Content-Encoding": "gzip"}),
    ("GET", "/boom?x=1", None, {}),
    ("DELETE", "/boom", None, {}),
    ("GET", "/ping", None, {}),
    ("GET", "/missing", None, {}),
]  # fmt: skip


def test_responses_are_identical_with_and_without_the_proxy(
    settings: Settings, new_topic: Callable[..., str], loop_thread: LoopThread,
    consumer_group: str, eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(1), new_topic(1)
    cfg = topic_settings(settings, topic)
    cfg = cfg.model_copy(update={"topics": cfg.topics.model_copy(update={"deadletter": dl_topic})})
    upstream_port = loop_thread.serve(model_server())
    proxy_port, admin_port, _ = start_proxy(
        loop_thread, cfg, f"http://127.0.0.1:{upstream_port}", "sk"
    )
    for method, path, body, headers in REQUESTS:
        direct = call(upstream_port, method, path, body, headers)
        proxied = call(proxy_port, method, path, body, headers)
        assert proxied[0] == direct[0] and proxied[1] == direct[1], path
        assert proxied[3] == direct[3], path
        assert _comparable(proxied[2]) == _comparable(direct[2]), path
    assert [call(admin_port, "GET", p)[0] for p in ("/healthz", "/readyz")] == [200, 200]
    metrics = call(admin_port, "GET", "/metrics")[3].decode()
    assert 'modelmon_proxy_requests_total{status="503"} 2.0' in metrics
    assert re.search(r"# TYPE modelmon_capture_dropped(_total)? counter\n", metrics)
    # the admin paths are not on the proxy port: there they reach the model
    assert call(proxy_port, "GET", "/healthz")[0] == 404
    # the malformed JSON request was served (400 from the model) and dead-lettered
    (dead,) = consume_all(settings, dl_topic, consumer_group, 1, eventually)
    record = DeadLetterRecord.model_validate_json(dead.value())
    assert base64.b64decode(record.original) == b"{oops"
    assert record.service == "capture-proxy" and "not valid JSON" in record.reason


def test_unreachable_upstream_is_a_502(settings: Settings, loop_thread: LoopThread) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    port, _, _ = start_proxy(loop_thread, settings, f"http://127.0.0.1:{closed}", "sk")
    status, _, _, body = call(port, "POST", "/invocations", b"1,2,3", {"Content-Type": "text/csv"})
    assert status == 502 and json.loads(body)["error"] == "upstream unreachable"


def test_proxied_traffic_is_archived_exactly_once(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, s3_bucket: str,
    boto_client: Callable[[str], Any], archiver: Callable[..., ArchiverProcess],
    loop_thread: LoopThread, eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic, dl_topic = new_topic(1), new_topic(1)
    cfg = topic_settings(settings, topic, feature_names={"sk": FEATURES})
    cfg = cfg.model_copy(update={"topics": cfg.topics.model_copy(update={"deadletter": dl_topic})})
    upstream_port = loop_thread.serve(model_server())
    port, _, proxy = start_proxy(loop_thread, cfg, f"http://127.0.0.1:{upstream_port}", "sk")
    n = 40
    for i in range(n):
        if i % 2:
            body, ctype = f"{i / 10},{-i / 20},1.5".encode(), "text/csv"
        else:
            body = json.dumps(
                {"instances": [{"age": i / 10, "income": -i / 20, "tenure": 1.5}]}
            ).encode()
            ctype = "application/json"
        status, *_ = call(
            port,
            "POST",
            "/invocations",
            body,
            {"Content-Type": ctype, "X-Inference-Id": f"inf-{i}"},
        )
        assert status == 200
    eventually(lambda: proxy.client.queued >= n, 60, "captures queued")
    assert proxy.client.flush(30) == 0
    proc = archiver(**archiver_env(topic, dl_topic, consumer_group, f"s3://{s3_bucket}/dc"))
    eventually(lambda: len(s3_records(boto_client, s3_bucket, "dc", "sk")) >= n, 120, "archive")
    assert proc.stop() == 0
    records = [r for _, r in s3_records(boto_client, s3_bucket, "dc", "sk")]
    assert sorted(r["eventMetadata"]["inferenceId"] for r in records) == sorted(
        f"inf-{i}" for i in range(n)
    )
    by_id = {r["eventMetadata"]["inferenceId"]: r for r in records}
    csv_rec = by_id["inf-3"]["captureData"]
    assert csv_rec["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                        "data": "0.3,-0.15,1.5", "encoding": "CSV"}  # fmt: skip
    assert csv_rec["endpointOutput"]["observedContentType"] == "text/csv; charset=utf-8"
    json_rec = by_id["inf-4"]["captureData"]["endpointInput"]
    assert json.loads(json_rec["data"]) == {
        "instances": [{"age": 0.4, "income": -0.2, "tenure": 1.5}]
    }
    attrs = json.loads(by_id["inf-4"]["eventMetadata"]["customAttributes"])["modelmon"]
    assert attrs["source"] == "proxy" and attrs["metadata"]["http_status"] == "200"
    assert attrs["latency_ms"] > 0


def test_capture_proxy_command_runs(tmp_path: Path, loop_thread: LoopThread) -> None:
    """``modelmon run capture-proxy`` starts, serves, and stops on SIGTERM.

    ``--admin-host 127.0.0.2`` (loopback, not the proxy's 127.0.0.1): the admin server binds it.
    """
    upstream_port = loop_thread.serve(model_server())
    ports = []
    for host in ("127.0.0.1", "127.0.0.2"):
        with socket.socket() as s:
            s.bind((host, 0))
            ports.append(s.getsockname()[1])
    log = (tmp_path / "proxy.log").open("wb")
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/modelmon"), "run", "capture-proxy", "--upstream",
         f"http://127.0.0.1:{upstream_port}", "--model", "cli-model", "--port", str(ports[0]),
         "--admin-host", "127.0.0.2", "--admin-port", str(ports[1])],
        stdout=log, stderr=log, env=dict(os.environ),
    )  # fmt: skip
    try:
        from conftest import wait_until

        wait_until(lambda: _answers(ports[1], "127.0.0.2"), 60, "proxy admin port")
        assert not _answers(ports[1])
        status, _, _, body = call(ports[0], "GET", "/ping")
        assert (status, body) == (200, b"\x00\x01binary")
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


def _answers(port: int, host: str = "127.0.0.1") -> bool:
    try:
        return call(port, "GET", "/readyz", host=host)[0] == 200
    except OSError:
        return False
