"""The per-window series endpoints (model quality, bias, feature attribution: one route
factory) on a real Redis holding what the label join and the detector store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelmon.config import ModelConfig
from modelmon.keys import Keys
from modelmon.registry import Registry

from .api_support import READ_TOKEN, bearer, make_app, seed

pytestmark = pytest.mark.integration


@pytest.fixture
def api(redis_client: Any, redis_prefix: str, tmp_path: Path) -> TestClient:
    seed(redis_client, redis_prefix, tmp_path, windows=12)
    Registry(redis_client, Keys(redis_prefix)).register(
        ModelConfig.model_validate({"model_id": "quiet", "window": {"size_seconds": 60}})
    )
    return TestClient(make_app(redis_client, redis_prefix))


def _get(api: TestClient, path: str, status: int = 200) -> Any:
    response = api.get("/api/v1" + path, headers=bearer(READ_TOKEN))
    assert response.status_code == status, response.text
    return response.json()


def test_the_attribution_series_shows_the_window_whose_ranking_turned(api: TestClient) -> None:
    page = _get(api, "/models/churn/attribution")["page"]
    assert page["total"] == 6 and page["next_offset"] is None
    windows = page["items"]
    assert [w["violations"] for w in windows] == [0, 0, 0, 1, 0, 0]
    for i, window in enumerate(windows):
        (label,) = window["labels"]
        assert label["label"] == "label0" and label["threshold"] == 0.9
        assert label["violated"] == (label["ndcg"] < 0.9) == (i == 3)
        top = [f["feature"] for f in label["top_features"]]
        assert top == (["tenure", "age", "debt", "income"] if i == 3 else
                       ["income", "debt", "age", "tenure"])  # fmt: skip
        assert label["top_features"][0]["baseline"] == (0.1 if i == 3 else 0.4)
        values = [f["value"] for f in label["top_features"]]
        assert values == sorted(values, reverse=True)
    assert _get(api, "/models/churn/attribution/latest") == windows[-1]
    # a page, and a time range
    second = _get(api, "/models/churn/attribution?offset=2&limit=2")["page"]
    assert second["items"] == windows[2:4] and second["next_offset"] == 4
    ranged = _get(api, f"/models/churn/attribution?start={windows[3]['window_start']}")["page"]
    assert ranged["items"] == windows[3:]


def test_the_series_share_their_refusals(api: TestClient) -> None:
    for series in ("quality", "bias", "attribution"):
        assert _get(api, f"/models/churn/{series}")["page"]["total"] == 6
        for path in (f"/models/churn/{series}", f"/models/churn/{series}/latest"):
            assert api.get("/api/v1" + path).status_code == 401
        missing = _get(api, f"/models/quiet/{series}/latest", 404)
        assert "has no" in missing["detail"] and missing["errors"][0]["field"] == "path.model_id"
        assert _get(api, f"/models/quiet/{series}")["page"]["items"] == []
        assert "not registered" in _get(api, f"/models/nope/{series}", 404)["detail"]
        _get(
            api, f"/models/churn/{series}?start=2030-01-01T00:00:00Z&end=2029-01-01T00:00:00Z", 422
        )
