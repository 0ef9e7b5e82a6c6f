"""One constructor of a window's alert event (events.window_alert) and the transition ids of
the series evaluated again as evidence arrives (events.transition_id)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from modelmon.events import AlertEvent, transition_id, window_alert

NOW = datetime(2026, 1, 2, tzinfo=UTC)
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@given(names, st.integers(0, 2**42), st.integers(1, 10**9), st.text(min_size=1, max_size=30))
def test_the_alert_names_its_window_and_key(
    model: str, start: int, size: int, feature: str
) -> None:
    alert = window_alert(
        model, (start, start + size), "baseline_drift_check", feature,
        event_id="e", description="d", detected_at=NOW, value=0.5, threshold=0.1,
    )  # fmt: skip
    assert alert.alert_key == f"{model}/AllTraffic/baseline_drift_check/{feature}"
    assert alert.window_start == datetime.fromtimestamp(start / 1000, UTC)
    assert alert.window_end == datetime.fromtimestamp((start + size) / 1000, UTC)
    assert (alert.state, alert.severity, alert.value, alert.threshold) == (
        "ALARM", "warning", 0.5, 0.1,
    )  # fmt: skip
    # a round trip through the topic's JSON gives the same event
    assert AlertEvent.model_validate_json(alert.model_dump_json()) == alert


@given(names, st.integers(0, 2**42), st.text(max_size=30), st.sampled_from(["ALARM", "OK"]),
       st.integers(0, 10**9))  # fmt: skip
def test_transition_ids_keep_the_form_alerting_has_seen(
    model: str, start: int, feature: str, state: str, evidence: int
) -> None:
    # ids already on the alerts topic must not change: alerting de-duplicates on them
    digest = hashlib.sha256(f"{model}|{start}|{feature}|{state}|{evidence}".encode())
    assert transition_id("q", model, start, feature, state, evidence) == (
        "q-" + digest.hexdigest()[:32]
    )
    other = "OK" if state == "ALARM" else "ALARM"
    assert transition_id("q", model, start, feature, other, evidence) != transition_id(
        "q", model, start, feature, state, evidence
    )
