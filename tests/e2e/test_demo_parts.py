"""The demo's own parts, on their own: the phases, the model server and the traffic generator.

No stack needed; the model is trained once for the module (a few seconds) and served by a
real aiohttp server on a free loopback port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from modelmon.demo.bias_rates import bias_rates
from modelmon.demo.dataset import CATEGORIES, FEATURE_NAMES, LABEL, SENSITIVE
from modelmon.demo.model import (
    VERSIONS,
    DemoModel,
    make_app,
    switch_version,
    train,
    write_datasets,
    write_joined,
)
from modelmon.demo.phases import (
    WRONG_TYPE_VALUE,
    Phase,
    default_schedule,
    draw_requests,
    fit_to_duration,
    phases_from_data,
)
from modelmon.demo.traffic import TrafficGenerator, check_target
from modelmon.errors import ConfigurationError

ADMIN = "demo-model-admin-token-for-tests"


def test_default_schedule_is_normal_incident_recovered() -> None:
    phases = default_schedule(10)
    assert [p.name for p in phases] == ["normal", "incident", "recovered"]
    assert [p.duration_s for p in phases] == [30, 30, 40]
    assert phases[0].is_normal and phases[2].is_normal
    assert phases[1].drifted == {"income", "balance"}
    assert [p.duration_s for p in fit_to_duration(phases, 60)] == [18, 18, 24]


def test_incident_requests_carry_exactly_the_injected_changes() -> None:
    incident = default_schedule(10)[1]
    normal = draw_requests(Phase("n", 1), np.random.default_rng(5), 4000)
    broken = draw_requests(incident, np.random.default_rng(5), 4000)
    assert all(set(r) == set(FEATURE_NAMES) for r in broken)
    regions = {r["region"] for r in broken}
    assert regions - set(CATEGORIES["region"][0]) == {"islands", "overseas"}
    assert {r["region"] for r in normal} == set(CATEGORIES["region"][0])
    nulls = sum(r["credit_score"] is None for r in broken)
    strings = sum(r["age"] == WRONG_TYPE_VALUE for r in broken)
    assert 0.22 < nulls / 4000 < 0.28 and 0.17 < strings / 4000 < 0.23
    assert all(isinstance(r["age"], int) for r in normal)
    for name in ("tenure_months", "num_products", "utilization", "plan", "channel"):
        assert all(r[name] is not None for r in broken)
    income = np.median([r["income"] for r in broken]) - np.median([r["income"] for r in normal])
    assert 25_000 < income < 35_000


def test_schedule_from_data() -> None:
    phases = phases_from_data(
        [
            {"name": "a", "duration_s": 5},
            {"name": "b", "duration_s": 7, "new_categories": {"plan": ["gold"]}},
        ]
    )
    assert phases[1] == Phase("b", 7, new_categories={"plan": ("gold",)})
    with pytest.raises(ValueError):
        phases_from_data({"name": "a"})


def test_traffic_goes_to_loopback_only_at_a_bounded_rate() -> None:
    check_target("http://127.0.0.1:8080/invocations", 100)
    check_target("http://localhost:8080/x", 2000)
    with pytest.raises(ConfigurationError):
        check_target("http://10.0.0.1:8080/invocations", 10)
    with pytest.raises(ConfigurationError):
        check_target("http://127.0.0.1:8080/invocations", 5000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoModel, Path]:
    model, cols = train(seed=7, n=3000)
    out = tmp_path_factory.mktemp("data")
    write_datasets(cols, out)
    return model, out


@pytest.fixture(scope="module")
def server(trained: tuple[DemoModel, Path]) -> Iterator[str]:
    from aiohttp import web

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(make_app(trained[0], ADMIN))
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_training_writes_training_and_baseline_sets(trained: tuple[DemoModel, Path]) -> None:
    model, out = trained
    assert model.train_rows == 2400
    assert model.test_accuracy > 0.7
    training = (out / "training.csv").read_text().splitlines()
    baseline = (out / "baseline.csv").read_text().splitlines()
    assert training[0].split(",") == [*FEATURE_NAMES, LABEL]
    assert baseline[0].split(",") == list(FEATURE_NAMES)
    assert len(training) == len(baseline) == 3001


def test_model_server_answers_json_instances_flat_and_csv(server: str) -> None:
    row: dict[str, Any] = {
        "age": 40, "income": 50000.0, "balance": 3000.0, "tenure_months": 12,
        "num_products": 2, "credit_score": 700, "utilization": 0.2, "region": "north",
        "plan": "basic", "channel": "web", "sex": "female",
    }  # fmt: skip
    flat = requests.post(f"{server}/invocations", json=row, timeout=10).json()
    assert set(flat) == {"prediction", "probability"} and flat["prediction"] in (0, 1)
    many = requests.post(f"{server}/invocations", json={"instances": [row, row]}, timeout=10)
    assert many.json() == {"predictions": [flat, flat]}
    bad = {**row, "age": "unknown", "credit_score": None, "region": "mars"}
    assert requests.post(f"{server}/invocations", json=bad, timeout=10).status_code == 200
    line = ",".join(str(row[n]) for n in FEATURE_NAMES)
    csv = requests.post(
        f"{server}/invocations", data=line, headers={"Content-Type": "text/csv"}, timeout=10
    )
    assert csv.text == f"{flat['prediction']},{flat['probability']}\n"
    assert requests.post(f"{server}/invocations", data=b"[1, 2]", timeout=10).status_code == 400


def test_traffic_generator_sends_every_phase_with_ids(server: str, tmp_path: Path) -> None:
    ids = tmp_path / "ids.tsv"
    phases = [Phase("a", 0.5), Phase("b", 0.5, shift={"age": 5})]
    gen = TrafficGenerator(f"{server}/invocations", phases, 40, id_prefix="t", ids_file=ids)
    reports = asyncio.run(gen.run())
    assert [(r.name, r.sent, r.ok, r.failed) for r in reports] == [
        ("a", 20, 20, 0),
        ("b", 20, 20, 0),
    ]
    lines = ids.read_text().splitlines()
    assert sorted(lines) == sorted(
        [f"t-{i:07d}\ta" for i in range(1, 21)] + [f"t-{i:07d}\tb" for i in range(21, 41)]
    )


def test_the_incident_deploys_model_v2_and_a_version_alone_is_not_normal() -> None:
    normal, incident, recovered = default_schedule(10)
    assert incident.model_version == "v2" and "model v2 deployed" in incident.describe()
    assert normal.model_version == recovered.model_version == "v1"
    assert not Phase("only-v2", 5, model_version="v2").is_normal
    assert phases_from_data([{"name": "x", "duration_s": 1, "model_version": "v2"}]) == [
        Phase("x", 1, model_version="v2")
    ]


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_v2_shifts_only_the_sensitive_groups_predictions(  # type: ignore[no-untyped-def]
    trained, seed
) -> None:
    """Same scores; men's predictions unchanged; women's only ever turn to 'default'."""
    model = trained[0]
    records = draw_requests(Phase("n", 1), np.random.default_rng(seed), 60)
    v1 = model.predict(records)
    v2 = replace(model, version=VERSIONS["v2"]).predict(records)
    assert [a["probability"] for a in v1] == [b["probability"] for b in v2]
    for record, a, b in zip(records, v1, v2, strict=True):
        if record[SENSITIVE[0]] == SENSITIVE[1]:
            assert b["prediction"] >= a["prediction"]
        else:
            assert b["prediction"] == a["prediction"]


def test_the_model_version_switch_needs_the_token(server: str) -> None:
    url = f"{server}/admin/version"
    assert requests.post(url, json={"version": "v2"}, timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert requests.post(url, json={"version": "v2"}, headers=wrong, timeout=10).status_code == 401
    right = {"Authorization": f"Bearer {ADMIN}"}
    assert requests.post(url, json={"version": "v9"}, headers=right, timeout=10).status_code == 400
    assert requests.post(url, data=b"{", headers=right, timeout=10).status_code == 400
    try:
        switch_version(server, ADMIN, "v2")
        assert requests.get(f"{server}/ping", timeout=10).json()["version"] == "v2"
    finally:
        switch_version(server, ADMIN, "v1")
    assert requests.get(f"{server}/ping", timeout=10).json()["version"] == "v1"


def test_joined_rows_carry_label_and_prediction(trained: tuple[DemoModel, Path]) -> None:
    model, out = trained
    cols = {name: np.array(values) for name, values in _csv_columns(out / "training.csv").items()}
    path = write_joined(model, cols, out)
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == [*FEATURE_NAMES, LABEL, "prediction"]
    assert len(lines) == 3001 and {ln.rsplit(",", 1)[1] for ln in lines[1:]} == {"0", "1"}


def _csv_columns(path: Path) -> dict[str, list[Any]]:
    import csv

    from modelmon.demo.dataset import CATEGORICAL

    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return {
        name: [r[name] if name in CATEGORICAL else float(r[name]) for r in rows] for name in rows[0]
    }


def test_the_demo_bias_check_is_quiet_on_normal_traffic_and_fires_on_v2(
    trained: tuple[DemoModel, Path],
) -> None:
    """The demo's figures, seeded: per seed 3 windows of 200 predictions per phase, each
    evaluated at 120, 160 and 200 labels as the label join does (99.99% interval rule): no
    quiet evaluation violates, and every seed's incident has a violated window (what the
    demo needs: one ALARM per run; ``bench/probe_demo_bias.py`` measures the rates)."""
    normal, incident, _ = default_schedule(5)
    for seed in range(3):
        rates = bias_rates(trained[0], [normal, incident], seeds=[seed], windows=3)
        assert rates["normal"].evaluations == 9 and rates["normal"].violated == 0
        assert rates["incident"].windows_violated >= 1
        assert float(np.mean(rates["incident"].dppl)) < -0.2 < -rates["normal"].max_abs_dppl
