"""API benchmark: latency of the model overview and of a feature's 7-day history, warm Redis.

Seeds one model with a week of one-minute windows (10,080) × 25 features through the
detector's own ResultStore (plus 9 small models, so the overview lists 10), starts
``modelmon run api`` as a subprocess, and times sequential requests over loopback with
keep-alive. The first request of each kind is reported apart (the overview's per-model
violation counts are read once, then only new windows). Prints markdown on stdout; progress on
stderr. Deletes its keys at the end.

Usage: .venv/bin/python bench/bench_api.py [--windows 10080] [--features 25] [--requests 200]
Needs the local stack's Redis (``.venv/bin/modelmon stack up``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from modelmon.adapters.redis import make_redis
from modelmon.config import ModelConfig
from modelmon.demo.history import HistorySpec, window_results
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore
from summary import headline

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-" + "0" * 20


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed(client: Any, prefix: str, model_id: str, windows: int, features: int) -> float:
    names = [f"f{i:02d}" for i in range(features)]
    registry = Registry(client, Keys(prefix))
    registry.register(ModelConfig.model_validate({"model_id": model_id}))
    spec = HistorySpec(
        model_id, names, windows,
        drifted=frozenset((names[0], w) for w in range(windows - 120, windows - 60)),
    )  # fmt: skip
    store = ResultStore(client, Keys(prefix), "bench")
    started = time.perf_counter()
    for i, result in enumerate(window_results(spec)):
        store.save_result(result, False, 10**12)
        if i % 2000 == 0:
            log(f"  {model_id}: {i}/{windows} windows written")
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(client: httpx.Client, url: str, n: int) -> tuple[float, list[float], int]:
    """(first request ms, the next n requests' ms, response bytes)."""
    samples = []
    size = 0
    for _ in range(n + 1):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return samples[0], samples[1:], size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=10_080)
    parser.add_argument("--features", type=int, default=25)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    settings = Settings()
    client = make_redis(settings.redis)
    prefix = f"bench-api-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = os.environ | {
        "MODELMON_REDIS__KEY_PREFIX": prefix,
        "MODELMON_API__READ_TOKENS": json.dumps([TOKEN]),
        "MODELMON_LOG_LEVEL": "WARNING",
        "MODELMON_ADMIN__PORT": "0",
    }
    api = None
    try:
        log(f"seeding {args.windows} windows x {args.features} features (prefix {prefix})")
        write_s = seed(client, prefix, "big", args.windows, args.features)
        for i in range(9):
            seed(client, prefix, f"small-{i}", 60, args.features)
        mem = client.info("memory")["used_memory_human"]
        modelmon = str(Path(sys.executable).parent / "modelmon")
        api = subprocess.Popen([modelmon, "run", "api", "--port", str(port)], env=env)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if http.get(base + "/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the API did not become ready")
                time.sleep(0.2)
            rows = measure(http, base, args)
    finally:
        if api is not None:
            api.send_signal(signal.SIGTERM)
            api.wait(30)
        keys = list(client.scan_iter(match=f"{prefix}*", count=5000))
        for i in range(0, len(keys), 1000):
            client.delete(*keys[i : i + 1000])
    report(rows, args, write_s, mem)
    return 0


def measure(http: httpx.Client, base: str, args: argparse.Namespace) -> list[tuple[Any, ...]]:
    api = base + "/api/v1"
    week = f"{api}/models/big/features/f00/series?limit=20000"
    cases = [
        ("model overview (10 models)", f"{api}/models", args.requests),
        ("one model (detail)", f"{api}/models/big", args.requests),
        (f"feature 7-day history ({args.windows} points)", week, max(20, args.requests // 10)),
        ("heat map (60 windows x 25 features)", f"{api}/models/big/heatmap", args.requests),
        ("window results, one page of 100", f"{api}/models/big/windows?limit=100", 50),
    ]
    rows = []
    for name, url, n in cases:
        log(f"timing {name} ({n} requests)")
        first, samples, size = timed(http, url, n)
        arr = np.array(samples)
        rows.append((name, n, first, np.percentile(arr, 50), np.percentile(arr, 99), size))
    return rows


def report(rows: list[tuple[Any, ...]], args: argparse.Namespace, write_s: float, mem: str) -> None:
    print("## API (`modelmon run api`), warm Redis\n")
    print(
        f"One model with {args.windows:,} one-minute windows × {args.features} features written "
        f"through the detector's ResultStore in {write_s:.1f} s (Redis then used {mem}), plus "
        "9 models of 60 windows. Sequential requests over loopback with keep-alive, one "
        "uvicorn worker; the first request of each kind is shown apart.\n"
    )
    print("| request | n | first (ms) | p50 (ms) | p99 (ms) | response bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, n, first, p50, p99, size in rows:
        print(f"| {name} | {n} | {first:.1f} | {p50:.1f} | {p99:.1f} | {size:,} |")
        if name.startswith(("model overview", "feature 7-day")):
            headline("api", f"{name}, p50 / p99", f"{p50:.1f} / {p99:.1f} ms")
    print()


if __name__ == "__main__":
    sys.exit(main())
