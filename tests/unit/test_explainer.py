"""The explainer's library: sampling, the request budget, config checks, SHAP tree and kernel."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import shap
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from explainer_model import FEATURES, make_regressor, serve, write_files
from modelmon.config import ModelConfig
from modelmon.errors import TransientError
from modelmon.explain.attribution import NotExplainableError, attribution_event, feature_row
from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import TokenBucket, event_seed, sample_point, sampled
from modelmon.explain.shapley import (
    ExplainerSetupError,
    KernelAttributor,
    TreeAttributor,
    background_sample,
    kernel_nsamples,
    load_tree_model,
)
from modelmon.validation import check_capture, decode_capture
from modelmon_services.explainer.endpoint import EndpointError, EndpointPredictor, decode_answer

#: Kernel SHAP (every coalition of 5 features, the same background rows) against interventional
#: TreeExplainer: measured max |difference| 2.3e-8 on values up to 2.6; we hold it to 1e-6.
KERNEL_TOLERANCE = 1e-6


@given(st.text(min_size=1, max_size=40), st.floats(0, 1), st.integers(0, 2**16))
def test_sampling_is_a_pure_function_of_event_id(event_id: str, rate: float, seed: int) -> None:
    assert sampled(event_id, rate, seed) == sampled(event_id, rate, seed)
    assert 0.0 <= sample_point(event_id, seed) < 1.0
    assert event_seed(event_id, seed) == event_seed(event_id, seed)
    assert sampled(event_id, 1.0, seed) and not sampled(event_id, 0.0, seed)


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_sampling_rate_is_the_fraction_sampled(rate: float) -> None:
    n = 20_000
    hits = sum(sampled(f"event-{i}", rate) for i in range(n))
    sd = (n * rate * (1 - rate)) ** 0.5
    assert abs(hits - n * rate) < 5 * sd  # binomial: 5 standard deviations


@settings(max_examples=60)
@given(
    st.floats(0.5, 50), st.floats(1, 20),
    st.lists(st.tuples(st.floats(0, 2), st.integers(1, 5)), min_size=1, max_size=80),
)  # fmt: skip
def test_token_bucket_never_grants_more_than_burst_plus_rate_times_t(
    rate: float, burst: float, steps: list[tuple[float, int]]
) -> None:
    bucket, now, granted = TokenBucket(rate, burst), 0.0, 0
    for dt, n in steps:
        now += dt
        if bucket.try_take(n, now):
            granted += n
        assert granted <= burst + rate * now + 1e-9
    assert bucket.granted == granted


def test_token_bucket_wait_time_then_grants() -> None:
    bucket = TokenBucket(2.0, 3.0)
    assert bucket.try_take(3, 10.0) and not bucket.try_take(1, 10.0)
    assert bucket.wait_time(2, 10.0) == pytest.approx(1.0)
    assert bucket.try_take(2, 11.0)
    assert bucket.wait_time(4, 11.0) == float("inf")


def _config(**extra: Any) -> dict[str, Any]:
    return {"features": FEATURES, "model_path": "m.joblib", **extra}


@pytest.mark.parametrize(
    "bad",
    [
        {"model_path": "../m.joblib"}, {"model_path": "/etc/m.joblib"}, {"model_path": "a/./b"},
        {"background_path": "x/../../y.csv"}, {"model_path": None},
        {"endpoint_url": "http://127.0.0.1:1/x"},  # both
        {"model_path": None, "endpoint_url": "ftp://h/x", "background_path": "b.csv"},
        {"model_path": None, "endpoint_url": "http://h/x"},  # no background
        {"features": ["a", "a"]}, {"features": []}, {"sample_rate": 1.5},
        {"max_requests_per_second": 0},
    ],
)  # fmt: skip
def test_invalid_explainer_configs_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ExplainerConfig.model_validate(_config(**bad))


def test_model_config_carries_the_explainer_section() -> None:
    config = ModelConfig.model_validate({"model_id": "m1", "explainer": _config(sample_rate=0.5)})
    assert config.explainer is not None and config.explainer.method == "tree"
    assert ModelConfig.model_validate({"model_id": "m1"}).explainer is None


def test_feature_row_refuses_what_it_cannot_explain() -> None:
    assert feature_row({"a": 1, "b": 2.5, "c": True}, ["a", "b", "c"]).tolist() == [1, 2.5, 1]
    for inputs in ({"a": None}, {}, {"a": "x"}, {"a": float("nan")}):
        with pytest.raises(NotExplainableError):
            feature_row(inputs, ["a"])


def test_attribution_event_is_a_valid_capture_event_of_the_same_inference() -> None:
    capture = decode_capture(orjson.dumps({
        "event_id": "e-1", "model_id": "m1", "event_time": "2026-01-01T00:00:01.5+02:00",
        "inputs": {"a": 1.0}, "metadata": {"secret": "x"},
    }))  # fmt: skip
    body = attribution_event(capture, ["a", "b"], np.array([0.5, -1.0]), "tree", 0.25)
    assert check_capture(body) is None
    event = orjson.loads(body)
    assert event["event_id"] == event["inference_id"] == "e-1" and event["inputs"] == {}
    assert event["attributions"] == {"a": 0.5, "b": -1.0}
    assert decode_capture(body).event_time == datetime(2025, 12, 31, 22, 0, 1, 500000, UTC)
    assert "secret" not in event["metadata"]
    with pytest.raises(NotExplainableError):
        attribution_event(capture, ["a"], np.array([np.inf]), "tree", 0.0)


@pytest.fixture(scope="module")
def regressor() -> tuple[Any, np.ndarray]:
    return make_regressor(seed=0)


@pytest.mark.parametrize("with_background", [False, True])
def test_tree_attributions_equal_shap_tree_explainer(
    regressor: tuple[Any, np.ndarray], tmp_path: Path, with_background: bool
) -> None:
    model, x = regressor
    name, _ = write_files(tmp_path, model, x)
    loaded = load_tree_model(tmp_path / "models" / name)
    background = background_sample(x, 30, "sample", 7) if with_background else None
    rows = x[100:140]
    ours = TreeAttributor(loaded, len(FEATURES), background).explain(rows)
    kind = "interventional" if with_background else "tree_path_dependent"
    reference = shap.TreeExplainer(model, data=background, feature_perturbation=kind)
    assert np.array_equal(ours, reference.shap_values(rows))


def test_tree_attributor_picks_one_class_of_a_classifier(tmp_path: Path) -> None:
    from sklearn.ensemble import RandomForestClassifier

    x = make_regressor(1)[1]
    labels = (x[:, 0] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0).fit(x, labels)
    ours = TreeAttributor(model, len(FEATURES), None, output_index=1).explain(x[:10])
    reference = np.asarray(shap.TreeExplainer(model).shap_values(x[:10]))[:, :, 1]
    assert np.array_equal(ours, reference)


def test_unloadable_artefacts_are_setup_errors(tmp_path: Path) -> None:
    (tmp_path / "x.joblib").write_bytes(b"not a pickle")
    (tmp_path / "x.onnx").write_bytes(b"")
    for name in ("x.joblib", "x.onnx"):
        with pytest.raises(ExplainerSetupError):
            load_tree_model(tmp_path / name)
    with pytest.raises(ExplainerSetupError):
        TreeAttributor({"not": "a model"}, 2)


def _kernel_config(url: str, **extra: Any) -> ExplainerConfig:
    return ExplainerConfig.model_validate({
        "features": FEATURES, "endpoint_url": url, "background_path": "background.csv",
        "background_method": "sample", "max_requests_per_second": 1000, **extra,
    })  # fmt: skip


def test_kernel_shap_against_the_served_model_agrees_with_the_tree_values(
    regressor: tuple[Any, np.ndarray],
) -> None:
    model, x = regressor
    background = background_sample(x, 20, "sample", 3)
    rows = x[200:215]
    tree = TreeAttributor(model, len(FEATURES), background).explain(rows)
    with serve(model) as served:
        config = _kernel_config(served.url)
        bucket = TokenBucket(1000, 1000)
        predict = EndpointPredictor(config, bucket, clock=lambda: 0.0, wait=lambda s: False)
        kernel = KernelAttributor(predict, background, len(FEATURES), config.nsamples)
        values = kernel.explain(rows, [event_seed(str(i)) for i in range(len(rows))])
        again = kernel.explain(rows[:3], [event_seed(str(i)) for i in range(3)])
    assert np.max(np.abs(values - tree)) < KERNEL_TOLERANCE
    assert np.array_equal(values[:3], again)  # identical input, identical output
    assert kernel.expected_value == pytest.approx(float(model.predict(background).mean()))
    # one request for the background, then per row: the row itself and its coalitions
    assert served.requests == 1 + 2 * (len(rows) + 3) == predict.requests
    assert kernel.requests_per_explanation() == 2


def test_kernel_nsamples_follows_shap() -> None:
    assert kernel_nsamples(5, "auto") == 30 and kernel_nsamples(40, "auto") == 2128
    assert kernel_nsamples(12, 100) == 100


def test_endpoint_outage_is_retried_then_answers(regressor: tuple[Any, np.ndarray]) -> None:
    model, x = regressor
    waits: list[float] = []
    with serve(model) as served:
        served.down = 3
        predict = EndpointPredictor(
            _kernel_config(served.url), TokenBucket(1000, 1000), clock=lambda: 0.0,
            wait=lambda s: waits.append(s) is not None, rand=lambda: 0.5,
        )  # fmt: skip
        out = predict(x[:4])
    assert np.allclose(out, model.predict(x[:4]))
    assert served.requests == 4 and len(waits) == 3 and waits[1] > waits[0]


def test_endpoint_down_while_stopping_raises_transient() -> None:
    predict = EndpointPredictor(
        _kernel_config("http://127.0.0.1:9/x"), TokenBucket(1000, 1000), clock=lambda: 0.0,
        wait=lambda s: True, rand=lambda: 0.0,
    )  # fmt: skip
    with pytest.raises(TransientError):
        predict(np.zeros((1, len(FEATURES))))


@pytest.mark.parametrize(
    ("body", "rows", "want"),
    [(b"1\n2\n", 2, [1, 2]), (b"[1, 2.5]", 2, [1, 2.5]), (b'{"predictions": [[0.2, 0.8]]}', 1,
      [0.8]), (b"0.1,0.9\n", 1, [0.9])],
)  # fmt: skip
def test_endpoint_answers_decode(body: bytes, rows: int, want: list[float]) -> None:
    assert decode_answer(body, rows, 1).tolist() == want


@pytest.mark.parametrize("body", [b"1\n", b'["a", 1]', b"{}", b"<html>", b"[true, 1]"])
def test_endpoint_answers_that_are_not_predictions_are_refused(body: bytes) -> None:
    with pytest.raises(EndpointError):
        decode_answer(body, 2, 0)


@pytest.mark.parametrize("form", ["sklearn wrapper (.joblib)", "native booster (.txt)"])
def test_lightgbm_models_are_explained_as_shap_does(tmp_path: Path, form: str) -> None:
    import joblib
    import lightgbm

    x = make_regressor(0)[1]
    y = 2 * x[:, 0] - x[:, 1] * x[:, 2]
    model = lightgbm.LGBMRegressor(n_estimators=30, num_leaves=8, random_state=0, verbose=-1)
    model.fit(x, y)
    if form.startswith("sklearn"):
        path = tmp_path / "m.joblib"
        joblib.dump(model, path)
    else:
        path = tmp_path / "m.txt"
        model.booster_.save_model(str(path))
    loaded = load_tree_model(path)
    rows = x[:25]
    ours = TreeAttributor(loaded, len(FEATURES)).explain(rows)
    assert np.array_equal(ours, shap.TreeExplainer(model.booster_).shap_values(rows))
