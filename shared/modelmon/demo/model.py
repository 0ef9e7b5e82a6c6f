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

Versions (``VERSIONS``): the same classifier behind different decision thresholds. ``v2`` is a
mis-deployed per-segment threshold that predicts a default for women far more readily — the
scores and the inputs do not change, one group's predictions do (what only a bias monitor
sees). ``POST /admin/version {"version": "v2"}`` switches, with the bearer token the server
was started with (no token: no such route).
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
    SENSITIVE,
    generate_columns,
    label_columns,
    rows,
)
from modelmon.demo.phases import DEFAULT_VERSION
from modelmon.errors import ConfigurationError

log = logging.getLogger(__name__)

TRAINING_CSV = "training.csv"
BASELINE_CSV = "baseline.csv"
#: features, label and the model's prediction: the bias baseline's data
JOINED_CSV = "joined.csv"
PREDICTION = "prediction"
ADMIN_TOKEN_ENV = "MODELMON_DEMO_MODEL_TOKEN"


@dataclass(frozen=True)
class ModelVersion:
    """A version of the demo model: its decision threshold, and other ones for some groups."""

    name: str
    threshold: float = 0.5
    #: (feature, value, threshold): a different bar for one group
    group_thresholds: tuple[tuple[str, str, float], ...] = ()

    def thresholds(self, records: list[dict[str, Any]]) -> np.ndarray[Any, Any]:
        out = np.full(len(records), self.threshold)
        for name, value, threshold in self.group_thresholds:
            out[np.array([r.get(name) == value for r in records], dtype=bool)] = threshold
        return out


VERSIONS: dict[str, ModelVersion] = {
    DEFAULT_VERSION: ModelVersion(DEFAULT_VERSION),
    "v2": ModelVersion("v2", group_thresholds=((*SENSITIVE, 0.1),)),
}


@dataclass
class DemoModel:
    """A fitted scikit-learn classifier and the figures it was trained to."""

    classifier: Any
    train_rows: int
    test_accuracy: float
    version: ModelVersion = VERSIONS[DEFAULT_VERSION]

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One ``{"prediction", "probability"}`` per record; never raises on bad values."""
        probs = self.classifier.predict_proba(encode(records))[:, 1]
        bars = self.version.thresholds(records)
        return [
            {"prediction": int(p >= bar), "probability": round(float(p), 6)}
            for p, bar in zip(probs, bars, strict=True)
        ]


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


def write_joined(model: DemoModel, cols: dict[str, Any], out_dir: Path) -> Path:
    """``joined.csv``: the training rows with their label and the model's prediction (the
    joined data ``baseline create --analysis bias`` reads)."""
    path = out_dir / JOINED_CSV
    records = rows(cols)
    predictions = [p[PREDICTION] for p in model.predict(records)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((*FEATURE_NAMES, LABEL, PREDICTION))
        labels = cols[LABEL].tolist()
        for record, label, predicted in zip(records, labels, predictions, strict=True):
            writer.writerow((*(record[n] for n in FEATURE_NAMES), label, predicted))
    return path


def switch_version(base_url: str, token: str, version: str, timeout: float = 10) -> None:
    """Ask a running demo model (``base_url`` without ``/invocations``) to serve ``version``."""
    import urllib.request

    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/admin/version",
        data=orjson.dumps({"version": version}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:  # nosec B310
        resp.read()


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


def make_app(model: DemoModel, admin_token: str | None = None) -> web.Application:
    """The HTTP app: ``POST /invocations`` and ``/predict``, ``GET /ping`` and ``/healthz``;
    ``POST /admin/version`` when started with an admin token."""

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
        return web.json_response(
            {"status": "ok", "test_accuracy": model.test_accuracy, "version": model.version.name}
        )

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/invocations", invoke)
    app.router.add_post("/predict", invoke)
    app.router.add_get("/ping", ping)
    app.router.add_get("/healthz", ping)
    if admin_token:
        app.router.add_post("/admin/version", _version_handler(model, admin_token))
    return app


def _version_handler(model: DemoModel, token: str) -> Any:
    import hmac

    async def switch(request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return _error(401, "a bearer token is needed")
        try:
            doc = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            doc = None
        name = doc.get("version") if isinstance(doc, dict) else None
        if name not in VERSIONS:
            return _error(400, f"version must be one of {', '.join(VERSIONS)}")
        model.version = VERSIONS[name]
        log.info("now serving model version %s", name)
        return web.json_response({"version": name})

    return switch
