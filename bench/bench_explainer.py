"""Explainer benchmarks: attributions per second (TreeExplainer and Kernel SHAP against a model
served over HTTP on 127.0.0.1), the load the explainer adds to the model endpoint (requests and
rows per explained event), the request budget holding under pressure, and the pass-through rate
of unsampled events. The explainer's own loop (decode, sample, SHAP, attribution event, one
transaction per batch) on in-memory Kafka fakes, so only the explainer's cost is measured.

Markdown on stdout, progress on stderr.
Usage: .venv/bin/python bench/bench_explainer.py [--tree-events 4000] [--kernel-events 30]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import orjson
import shap
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry
from sklearn.ensemble import GradientBoostingRegressor

from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import TokenBucket
from modelmon_services.explainer.endpoint import EndpointPredictor
from modelmon_services.explainer.loop import ExplainerLoop
from modelmon_services.explainer.metrics import ExplainerMetrics
from modelmon_services.explainer.models import Explainers
from summary import headline

FEATURES = [f"x{i}" for i in range(10)]


@dataclass
class _Msg:
    _value: bytes
    _offset: int

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return "capture"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


@dataclass
class _Consumer:
    values: list[bytes]
    at: int = 0

    def subscribe(self, topics: list[str]) -> None: ...
    def consume(self, n: int, timeout: float) -> list[Any]:
        batch = self.values[self.at : self.at + n]
        self.at += len(batch)
        return [_Msg(v, self.at - len(batch) + i) for i, v in enumerate(batch)]

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition("capture", 0)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition("capture", 0, self.at)]

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition("capture", 0, self.at)]

    def seek(self, partition: TopicPartition) -> None: ...
    def consumer_group_metadata(self) -> Any:
        return None

    def close(self) -> None: ...


@dataclass
class _Producer:
    sent: int = 0
    dead: int = 0

    def init_transactions(self, timeout: float) -> None: ...
    def begin_transaction(self) -> None: ...
    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent += 1

    def poll(self, timeout: float) -> int:
        return 0

    def send_offsets_to_transaction(
        self, positions: Any, metadata: Any, timeout: float
    ) -> None: ...
    def commit_transaction(self, timeout: float) -> None: ...
    def abort_transaction(self, timeout: float) -> None: ...


@dataclass
class _Served:
    url: str = ""
    requests: int = 0
    rows: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def _serve(model: Any) -> Iterator[_Served]:
    served = _Served()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rows = np.loadtxt(body.decode().splitlines(), delimiter=",", ndmin=2)
            with served.lock:
                served.requests += 1
                served.rows += rows.shape[0]
            answer = "\n".join(repr(float(v)) for v in model.predict(rows)).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None: ...

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/invocations"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()


def _data(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, len(FEATURES)))
    y = 2 * x[:, 0] + x[:, 1] ** 2 - x[:, 2] * x[:, 3] + 0.5 * x[:, 4] + rng.normal(0, 0.1, n)
    return x, y


def _captures(x: np.ndarray) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "event_id": f"e-{i}",
                "model_id": "m",
                "event_time": "2026-01-01T00:00:00Z",
                "inputs": dict(zip(FEATURES, row.tolist(), strict=True)),
            }
        )
        for i, row in enumerate(x)
    ]


def _loop(
    root: Path, config: ExplainerConfig, values: list[bytes], clock: Any = time.monotonic
) -> tuple[ExplainerLoop, _Producer, CollectorRegistry]:
    producer, registry = _Producer(), CollectorRegistry()

    def predictor(model: str, c: ExplainerConfig, budget: TokenBucket) -> EndpointPredictor:
        return EndpointPredictor(c, budget, clock=clock, wait=lambda s: time.sleep(s) is not None)

    def acquire(bucket: TokenBucket, n: int) -> None:
        while not bucket.try_take(n, clock()):
            time.sleep(0.01)

    explainers = Explainers(str(root / "models"), str(root / "data"), predictor, clock=clock,
                            acquire=acquire)  # fmt: skip
    loop = ExplainerLoop(
        _Consumer(values), producer, lambda: {"m": config}, explainers, capture_topic="capture",
        output_topic="out", dead_letter=lambda *a: None, metrics=ExplainerMetrics(registry),
        clock=clock,
    )  # fmt: skip
    loop.start()
    return loop, producer, registry


def _drain(loop: ExplainerLoop, batch: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    while loop.step(batch, 0):
        pass
    return time.perf_counter() - wall, time.process_time() - cpu


def _config(**values: Any) -> ExplainerConfig:
    return ExplainerConfig.model_validate({"features": FEATURES, "sample_rate": 1.0, **values})


def _tree(root: Path, model: Any, x: np.ndarray, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    values = _captures(x[:n])
    for name, extra in (("path-dependent", {}), ("interventional, 100 background rows",
                                                  {"background_path": "bg.csv",
                                                   "background_size": 100})):  # fmt: skip
        loop, producer, _ = _loop(root, _config(model_path="m.joblib", **extra), values)
        wall, _cpu = _drain(loop, 500)
        assert producer.sent == n
        out[name] = n / wall
        print(f"  tree ({name}): {n / wall:,.0f}/s", file=sys.stderr)
    start = time.perf_counter()
    shap.TreeExplainer(model).shap_values(x[:n])
    out["shap"] = n / (time.perf_counter() - start)
    loop, producer, _ = _loop(root, _config(model_path="m.joblib", sample_rate=0.01),
                              _captures(x[:n]) * 5)  # fmt: skip
    wall, _ = _drain(loop, 5000)
    out["passthrough"] = 5 * n / wall
    return out


def _kernel(root: Path, model: Any, x: np.ndarray, n: int) -> dict[str, float]:
    """Throughput after start-up (k-means, the background's predictions), then the budget."""
    out: dict[str, float] = {}
    with _serve(model) as served:
        config = _config(endpoint_url=served.url, background_path="bg.csv", background_size=20,
                         max_requests_per_second=1e6)  # fmt: skip
        loop, producer, _ = _loop(root, config, _captures(x[: n + 1]))
        loop.step(1, 0)  # builds the explainer and explains one event
        start_requests, start_rows, start_sent = served.requests, served.rows, producer.sent
        wall, _ = _drain(loop, 10)
        explained = producer.sent - start_sent
        out["rate"] = explained / wall
        out["requests_per_event"] = (served.requests - start_requests) / explained
        out["rows_per_event"] = (served.rows - start_rows) / explained
        print(f"  kernel: {out['rate']:.2f}/s", file=sys.stderr)
        budget = 2.0
        config = config.model_copy(update={"max_requests_per_second": budget})
        loop, producer, registry = _loop(root, config, _captures(x[:2000]))
        loop.step(1, 0)  # start-up outside the window
        before, sent_before = served.requests, producer.sent
        skipped_before = _over_budget(registry)
        started = time.monotonic()
        while time.monotonic() - started < 6.0 and loop.step(1, 0):
            time.sleep(0.05)  # captures arriving at ~20/s, far more than the budget allows
        elapsed = time.monotonic() - started
        out["budget"], out["budget_seconds"] = budget, elapsed
        out["budget_requests"] = served.requests - before
        out["budget_requests_per_s"] = (served.requests - before) / elapsed
        out["budget_bound"] = max(budget, out["requests_per_event"]) + budget * elapsed
        out["budget_explained"] = producer.sent - sent_before
        out["budget_skipped"] = _over_budget(registry) - skipped_before
    return out


def _over_budget(registry: CollectorRegistry) -> float:
    value = registry.get_sample_value(
        "modelmon_explainer_events_total", {"model": "m", "outcome": "over_budget"}
    )
    return value or 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree-events", type=int, default=4000)
    parser.add_argument("--kernel-events", type=int, default=30)
    args = parser.parse_args()
    x, y = _data(max(args.tree_events, 2000))
    model = GradientBoostingRegressor(n_estimators=100, max_depth=4, random_state=0).fit(
        x[:2000], y[:2000]
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "models").mkdir()
        (root / "data").mkdir()
        joblib.dump(model, root / "models" / "m.joblib")
        np.savetxt(root / "data" / "bg.csv", x[:2000], delimiter=",", header=",".join(FEATURES),
                   comments="")  # fmt: skip
        print("explainer: tree", file=sys.stderr)
        tree = _tree(root, model, x, args.tree_events)
        print("explainer: kernel", file=sys.stderr)
        kernel = _kernel(root, model, x, args.kernel_events)
    _report(args, tree, kernel)


def _report(args: Any, tree: Mapping[str, float], kernel: Mapping[str, float]) -> None:
    print("## Explainer\n")
    print("GradientBoostingRegressor, 100 trees of depth 4, 10 numeric features. The explainer's")
    print("loop (decode, sample, SHAP, attribution event, one transaction per batch) on in-memory")
    print("Kafka fakes, one process; Kernel SHAP calls the same model served over HTTP (text/csv)")
    print("on 127.0.0.1, background 20 k-means centres, every coalition (2^10 - 2 = 1,022).\n")
    print("| what | value |\n|---|---|")
    for name in ("path-dependent", "interventional, 100 background rows"):
        print(f"| TreeExplainer ({name}), attributions/s, batches of 500 | {tree[name]:,.0f} |")
    print(
        f"| shap.TreeExplainer alone on the same rows (no service), rows/s | {tree['shap']:,.0f} |"
    )
    print(f"| unsampled events passed through (rate 0.01), events/s | {tree['passthrough']:,.0f} |")
    print(f"| Kernel SHAP via the endpoint, attributions/s ({args.kernel_events} events, after "
          f"start-up) | {kernel['rate']:.2f} |")  # fmt: skip
    print(f"| endpoint requests per explained event | {kernel['requests_per_event']:.2f} |")
    print(f"| endpoint rows predicted per explained event | {kernel['rows_per_event']:,.0f} |")
    print(f"| budget {kernel['budget']:.0f} requests/s for {kernel['budget_seconds']:.1f} s: "
          f"requests sent (bound: burst + "
          f"rate x T = {kernel['budget_bound']:.0f}) | {kernel['budget_requests']:.0f} "
          f"({kernel['budget_requests_per_s']:.1f}/s) |")  # fmt: skip
    print(f"| ... explained / skipped as over budget | {kernel['budget_explained']:.0f} / "
          f"{kernel['budget_skipped']:.0f} |")  # fmt: skip
    headline("explainer", "tree attributions/s (TreeExplainer, 1 process)",
             f"{tree['path-dependent']:,.0f}/s", f"shap alone {tree['shap']:,.0f}/s",
             f"{tree['path-dependent'] / tree['shap']:.2f}x")  # fmt: skip
    headline("explainer", "kernel attributions/s (HTTP endpoint, 10 features)",
             f"{kernel['rate']:.2f}/s")  # fmt: skip
    headline(
        "explainer",
        "endpoint load per explained event (kernel)",
        f"{kernel['requests_per_event']:.2f} requests, {kernel['rows_per_event']:,.0f} rows",
    )
    bound = kernel["budget_bound"]
    headline("explainer", f"endpoint requests in {kernel['budget_seconds']:.0f} s under a "
             f"{kernel['budget']:.0f}/s budget",
             f"{kernel['budget_requests']:.0f}", target=f"<= {bound:.0f} (burst + rate x T)",
             met=kernel["budget_requests"] <= bound)  # fmt: skip


if __name__ == "__main__":
    main()
