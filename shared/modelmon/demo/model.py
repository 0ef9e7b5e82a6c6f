"""The demo model: a scikit-learn classifier trained at start-up and served over HTTP.

``modelmon demo serve-model`` trains it on the generated loan book (see ``dataset``), writes
the training set (features + label) and the baseline set (features only) as CSV, and serves
``POST /invocations`` (SageMaker's path; ``/predict`` too) on loopback:

- JSON ``{"instances": [{...}, ...]}`` -> ``{"predictions": [{"prediction", "probability"}]}``
- JSON flat object ``{...}`` -> ``{"prediction": 0|1, "probability": p}``
- ``text/csv`` rows in feature order -> ``prediction,probability`` per row

A missing value, a value of the wrong type or an unknown category is treated as missing (the
trees have a branch for it), as a forgiving production model would: the request still
succeeds and the monitor is what notices.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from aiohttp import web

from modelmon.demo.dataset import (
    CATEGORICAL,
    CATEGORIES,
    FEATURE_NAMES,
    LABEL,
    generate_columns,
    label_columns,
    rows,
)
from modelmon.errors import ConfigurationError

log = logging.getLogger(__name__)

TRAINING_CSV = "training.csv"
BASELINE_CSV = "baseline.csv"


@dataclass
class DemoModel:
    """A fitted scikit-learn classifier and the figures it was trained to."""

    classifier: Any
    train_rows: int
    test_accuracy: float

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One ``{"prediction", "probability"}`` per record; never raises on bad values."""
        probs = self.classifier.predict_proba(encode(records))[:, 1]
        return [{"prediction": int(p >= 0.5), "probability": round(float(p), 6)} for p in probs]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


_CODES = {name: {v: float(i) for i, v in enumerate(CATEGORIES[name][0])} for name in CATEGORICAL}


def encode(records: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
    """Records -> a float matrix in feature order; categories as codes, unknown as NaN."""
    matrix = np.empty((len(records), len(FEATURE_NAMES)))
    for j, name in enumerate(FEATURE_NAMES):
        codes = _CODES.get(name)
        if codes is None:
            matrix[:, j] = [_number(r.get(name)) for r in records]
        else:
            matrix[:, j] = [codes.get(r.get(name), math.nan) for r in records]  # type: ignore[arg-type]
    return matrix


def train(seed: int = 7, n: int = 6000) -> tuple[DemoModel, dict[str, Any]]:
    """Generate ``n`` rows, fit on 80 %, score on 20 %; returns the model and the columns."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError as exc:
        raise ConfigurationError(
            "the demo model needs scikit-learn: `make venv` installs it, or "
            "`pip install 'scikit-learn>=1.5'` (it is in modelmon's dev extra)"
        ) from exc

    rng = np.random.default_rng(seed)
    cols = generate_columns(rng, n)
    labels = label_columns(cols, rng)
    matrix = encode(rows(cols))
    split = int(n * 0.8)
    classifier = HistGradientBoostingClassifier(
        categorical_features=[name in CATEGORICAL for name in FEATURE_NAMES],
        random_state=seed,
    )
    classifier.fit(matrix[:split], labels[:split])
    accuracy = float(classifier.score(matrix[split:], labels[split:]))
    cols[LABEL] = labels
    return DemoModel(classifier, split, accuracy), cols


def write_datasets(cols: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write ``training.csv`` (features + label) and ``baseline.csv`` (features only)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    training, baseline = out_dir / TRAINING_CSV, out_dir / BASELINE_CSV
    n = len(cols[LABEL])
    lists = {name: cols[name].tolist() for name in (*FEATURE_NAMES, LABEL)}
    for path, names in ((training, (*FEATURE_NAMES, LABEL)), (baseline, FEATURE_NAMES)):
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            writer.writerows([lists[name][i] for name in names] for i in range(n))
    return training, baseline


def _csv_records(text: str) -> list[dict[str, Any]]:
    records = []
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        record: dict[str, Any] = {}
        for name, cell in zip(FEATURE_NAMES, row, strict=False):
            try:
                record[name] = cell if name in CATEGORICAL else float(cell)
            except ValueError:
                record[name] = cell
        records.append(record)
    return records


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def make_app(model: DemoModel) -> web.Application:
    """The HTTP app: ``POST /invocations`` and ``/predict``, ``GET /ping`` and ``/healthz``."""

    async def invoke(request: web.Request) -> web.Response:
        body = await request.read()
        if request.content_type == "text/csv":
            preds = model.predict(_csv_records(body.decode("utf-8", "replace")))
            text = "".join(f"{p['prediction']},{p['probability']}\n" for p in preds)
            return web.Response(text=text, content_type="text/csv")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _error(400, f"body is not JSON: {exc}")
        if isinstance(doc, dict) and isinstance(doc.get("instances"), list):
            instances = [i for i in doc["instances"] if isinstance(i, dict)]
            if len(instances) != len(doc["instances"]):
                return _error(400, "every instance must be a JSON object of named features")
            return web.json_response({"predictions": model.predict(instances)})
        if isinstance(doc, dict):
            return web.json_response(model.predict([doc])[0])
        return _error(400, 'send {"instances": [{...}]} or one flat object of named features')

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "test_accuracy": model.test_accuracy})

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/invocations", invoke)
    app.router.add_post("/predict", invoke)
    app.router.add_get("/ping", ping)
    app.router.add_get("/healthz", ping)
    return app
