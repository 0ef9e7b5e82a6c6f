"""A seeded tree model, its artefact and background files, and a tiny HTTP server serving it.

Shared by the explainer's unit and integration tests and its benchmark: the server binds
127.0.0.1, answers text/csv (one prediction per line) or JSON, counts every request and can be
told to fail (``down``) so tests see retries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import orjson

FEATURES = ["f0", "f1", "f2", "f3", "f4"]


def make_data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    y = 2 * x[:, 0] + x[:, 1] ** 2 - x[:, 2] * x[:, 3] + rng.normal(scale=0.1, size=n)
    return x, y


def make_regressor(seed: int = 0) -> tuple[Any, np.ndarray]:
    """A GradientBoostingRegressor on seeded data, and its training rows."""
    from sklearn.ensemble import GradientBoostingRegressor

    x, y = make_data(seed=seed)
    model = GradientBoostingRegressor(n_estimators=40, max_depth=3, random_state=seed)
    return model.fit(x, y), x


def write_files(root: Path, model: Any, x: np.ndarray) -> tuple[str, str]:
    """``models/m.joblib`` and ``data/background.csv`` under ``root``; their relative paths."""
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    joblib.dump(model, root / "models" / "m.joblib")
    header = ",".join(FEATURES)
    np.savetxt(root / "data" / "background.csv", x, delimiter=",", header=header, comments="",
               fmt="%.17g")  # fmt: skip
    return "m.joblib", "background.csv"


@dataclass
class ServedModel:
    url: str
    requests: int = 0
    rows: int = 0
    down: int = 0  # the next `down` requests answer 503
    refuse: bool = False  # every request answers 400
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def serve(model: Any) -> Iterator[ServedModel]:
    """Serves ``model.predict`` on 127.0.0.1 (POST, text/csv or JSON instances)."""
    served = ServedModel(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with served.lock:
                served.requests += 1
                fail = served.down > 0
                served.down -= 1 if fail else 0
            if fail or served.refuse:
                self.send_response(400 if served.refuse else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("Content-Type") == "application/json":
                rows = np.asarray(orjson.loads(body)["instances"], dtype=np.float64)
            else:
                rows = np.loadtxt(body.decode().splitlines(), delimiter=",", ndmin=2)
            with served.lock:
                served.rows += rows.shape[0]
            answer = "\n".join(repr(float(v)) for v in model.predict(rows)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}/invocations"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
