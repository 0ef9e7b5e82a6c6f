"""Capture benchmarks (not tests): SDK cost per call, proxy added latency, archiver throughput.

Needs the local stack (``.venv/bin/modelmon stack up``). Prints a markdown table:

    .venv/bin/python bench/bench_capture.py [--sdk-n 200000] [--proxy-n 3000] [--archive-n 100000]

- SDK: ``CaptureClient.capture()`` of a 10-feature dict from one thread to a fresh topic;
  p50/p99 per call (each call timed) and captures/s (an untimed loop).
- Proxy: a small model server and ``modelmon run capture-proxy`` as subprocesses; an
  open-loop client at 500 requests/s, first straight to the model, then through the proxy.
- Archiver: ``modelmon run archiver`` as a subprocess, from a pre-filled topic to the S3
  emulator; events/s from ``/readyz`` (partitions assigned) until every event is written
  (files roll every second, so the last roll wait is included).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from modelmon.stack import StackConfig, env_vars

for _k, _v in env_vars(StackConfig()).items():
    os.environ.setdefault(_k, _v)

from modelmon.adapters.aws import boto_client  # noqa: E402
from modelmon.adapters.kafka import make_admin  # noqa: E402
from modelmon.capture import CaptureClient  # noqa: E402
from modelmon.settings import Settings  # noqa: E402
from summary import headline  # noqa: E402  (bench/ is the script's directory)

ROOT = Path(__file__).resolve().parents[1]
MODELMON = str(ROOT / ".venv" / "bin" / "modelmon")
FEATURES = {f"f{i}": i * 1.5 for i in range(10)}

MODEL_SERVER = r"""
import json, sys
from aiohttp import web
W = [0.1 * i for i in range(10)]
async def invocations(request):
    doc = json.loads(await request.read())
    rows = doc["instances"]
    preds = [sum(w * r[f"f{i}"] for i, w in enumerate(W)) for r in rows]
    return web.json_response({"predictions": preds})
app = web.Application()
app.router.add_post("/invocations", invocations)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def topic(settings: Settings, partitions: int = 1) -> Iterator[str]:
    from confluent_kafka.admin import NewTopic

    admin = make_admin(settings.kafka)
    name = f"bench-capture-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])[
        name
    ].result(30)
    time.sleep(1.0)
    try:
        yield name
    finally:
        admin.delete_topics([name], operation_timeout=30)[name].result(30)


def with_topic(settings: Settings, name: str) -> Settings:
    return settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"capture": name})}
    )


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


# ----------------------------------------------------------------------------- SDK


def bench_sdk(settings: Settings, n: int) -> list[tuple[str, str]]:
    with topic(settings) as name:
        client = CaptureClient("bench-model", settings=with_topic(settings, name))
        for _ in range(5000):
            client.capture(FEATURES, 0.3)
        client.flush(30)
        clock = time.perf_counter_ns
        lat = []
        for _ in range(n):
            t = clock()
            client.capture(FEATURES, 0.3)
            lat.append((clock() - t) / 1000.0)
        client.flush(60)
        start = time.perf_counter()
        for _ in range(n):
            client.capture(FEATURES, 0.3)
        rate = n / (time.perf_counter() - start)
        client.flush(60)
        drops = client.dropped
        client.close()
    p99 = pct(lat, 99)
    headline("capture", "SDK `capture()` p99, one thread", f"{p99:.1f} µs", target="< 50 µs",
             met=p99 < 50)  # fmt: skip
    headline("capture", "SDK captures/s, one thread", f"{rate:,.0f}", target="≥ 100k/s",
             met=rate >= 100_000)  # fmt: skip
    return [
        ("SDK `capture()` p50", f"{pct(lat, 50):.1f} µs"),
        ("SDK `capture()` p99", f"{pct(lat, 99):.1f} µs"),
        ("SDK `capture()` p99.9", f"{pct(lat, 99.9):.1f} µs"),
        ("SDK captures/s, one thread", f"{rate:,.0f}"),
        ("SDK drops during the run", f"{drops}"),
    ]


# ----------------------------------------------------------------------------- proxy


async def _load(url: str, n: int, rate: float) -> list[float]:
    import aiohttp

    body = ('{"instances": [' + ", ".join(
        '{' + ", ".join(f'"f{i}": {i * 0.5}' for i in range(10)) + '}' for _ in range(1)
    ) + "]}").encode()  # fmt: skip
    lat: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as session:

        async def one() -> None:
            t = time.perf_counter()
            async with session.post(
                url, data=body, headers={"Content-Type": "application/json"}
            ) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            lat.append((time.perf_counter() - t) * 1000.0)

        for _ in range(200):  # warm-up, not measured
            await one()
        lat.clear()
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
    return lat


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_proxy(settings: Settings, n: int, rate: float = 500.0) -> list[tuple[str, str]]:
    model_port, proxy_port, admin_port = free_port(), free_port(), free_port()
    with topic(settings) as name:
        env = {**os.environ, "MODELMON_TOPICS__CAPTURE": name, "MODELMON_LOG_LEVEL": "WARNING"}
        model = subprocess.Popen([sys.executable, "-c", MODEL_SERVER, str(model_port)])
        proxy = subprocess.Popen(
            [MODELMON, "run", "capture-proxy", "--upstream", f"http://127.0.0.1:{model_port}",
             "--model", "bench-proxy", "--port", str(proxy_port), "--admin-port", str(admin_port)],
            env=env,
        )  # fmt: skip
        try:
            _wait_port(model_port)
            _wait_port(proxy_port)
            direct = asyncio.run(_load(f"http://127.0.0.1:{model_port}/invocations", n, rate))
            cpu0 = _cpu_seconds(proxy.pid)
            via = asyncio.run(_load(f"http://127.0.0.1:{proxy_port}/invocations", n, rate))
            cpu_ms = (_cpu_seconds(proxy.pid) - cpu0) / (n + 200) * 1000.0
        finally:
            for p in (proxy, model):
                p.terminate()
                p.wait(30)
    headline("capture", f"proxy added latency p50 / p99 at {rate:.0f} req/s",
             f"{pct(via, 50) - pct(direct, 50):.2f} / {pct(via, 99) - pct(direct, 99):.2f} ms",
             f"direct: {pct(direct, 50):.2f} / {pct(direct, 99):.2f} ms")  # fmt: skip
    return [
        (f"model direct p50 / p99 ({rate:.0f} req/s, n={n})",
         f"{pct(direct, 50):.2f} / {pct(direct, 99):.2f} ms"),
        ("through the proxy p50 / p99", f"{pct(via, 50):.2f} / {pct(via, 99):.2f} ms"),
        ("proxy added latency p50 / p99",
         f"{pct(via, 50) - pct(direct, 50):.2f} / {pct(via, 99) - pct(direct, 99):.2f} ms"),
        ("proxy CPU per request (forward + capture)", f"{cpu_ms:.2f} ms"),
    ]  # fmt: skip


# ----------------------------------------------------------------------------- archiver


def _archived(port: int) -> float:
    import urllib.request

    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read()
    except OSError:
        return 0.0
    total = 0.0
    for line in text.decode().splitlines():
        if line.startswith("modelmon_archiver_events_total"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _ready(port: int) -> bool:
    import urllib.request

    try:
        return bool(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2).status == 200
        )
    except OSError:
        return False


def bench_archiver(settings: Settings, n: int) -> list[tuple[str, str]]:
    s3 = boto_client(settings.aws, "s3")
    bucket = f"bench-capture-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    with topic(settings, 3) as name:
        client = CaptureClient("bench-archive", settings=with_topic(settings, name))
        for i in range(n):
            client.capture(FEATURES, 0.3, inference_id=f"i-{i}")
        client.flush(120)
        client.close()
        port = free_port()
        env = {
            **os.environ, "MODELMON_TOPICS__CAPTURE": name,
            "MODELMON_ARCHIVER__DESTINATION": f"s3://{bucket}/bench",
            "MODELMON_ARCHIVER__GROUP_ID": f"bench-{uuid.uuid4().hex[:8]}",
            "MODELMON_ADMIN__PORT": str(port), "MODELMON_ARCHIVER__ROLL_SECONDS": "1",
            "MODELMON_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        proc = subprocess.Popen([MODELMON, "run", "archiver"], env=env)
        try:
            while not _ready(port):  # started, partitions assigned
                time.sleep(0.05)
            ready = time.perf_counter()
            while _archived(port) < n:
                time.sleep(0.05)
            rate = n / (time.perf_counter() - ready)
        finally:
            proc.terminate()
            proc.wait(60)
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    for key in objects:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    headline("capture", "archiver, Kafka -> S3 emulator, one process", f"{rate:,.0f} events/s")
    return [(f"archiver Kafka -> S3 emulator (n={n:,}, ready to all written)",
             f"{rate:,.0f} events/s"),
            ("archiver files written", str(len(objects)))]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sdk-n", type=int, default=200_000)
    parser.add_argument("--proxy-n", type=int, default=3000)
    parser.add_argument("--proxy-rate", type=float, default=500.0)
    parser.add_argument("--archive-n", type=int, default=100_000)
    parser.add_argument("--only", choices=["sdk", "proxy", "archiver"], default=None)
    args = parser.parse_args(argv)
    settings = Settings()
    rows: list[tuple[str, Any]] = []
    if args.only in (None, "sdk"):
        rows += bench_sdk(settings, args.sdk_n)
    if args.only in (None, "proxy"):
        rows += bench_proxy(settings, args.proxy_n, args.proxy_rate)
    if args.only in (None, "archiver"):
        rows += bench_archiver(settings, args.archive_n)
    print(f"\n| measure ({os.cpu_count()} cores, shared) | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
