"""modelmon.service: health/readiness, the admin HTTP server and dead-letter records."""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from modelmon.errors import InvalidEventError
from modelmon.events import DeadLetterRecord
from modelmon.service import AdminServer, DeadLetters, Health, StopFlag, dead_letter_record


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_admin_server_answers_on_loopback_whichever_address_it_binds(host: str) -> None:
    server = AdminServer(Health(), CollectorRegistry(), host=host).start()
    try:
        assert server.host == host
        assert _get(server.port, "/healthz") == (200, b"ok\n")
        assert _get(server.port, "/readyz") == (503, b"starting\n")
    finally:
        server.stop()


def test_admin_server_binds_loopback_by_default() -> None:
    server = AdminServer(Health(), CollectorRegistry())
    try:
        assert server.host == "127.0.0.1"
    finally:
        server.stop()


def test_admin_server_reports_health_readiness_and_metrics() -> None:
    health, registry = Health(), CollectorRegistry()
    sent: list[tuple[str, bytes | None, bytes]] = []
    dead = DeadLetters(lambda t, k, v: sent.append((t, k, v)), "dl", "svc", registry)
    server = AdminServer(health, registry).start()
    try:
        assert _get(server.port, "/healthz") == (200, b"ok\n")
        assert _get(server.port, "/readyz") == (503, b"starting\n")
        health.set_ready(True)
        assert _get(server.port, "/readyz") == (200, b"ok\n")
        assert _get(server.port, "/nope")[0] == 404
        record = dead.send(b"{bad", InvalidEventError("not JSON"), model_id="m", source=("t", 1, 7))
        status, body = _get(server.port, "/metrics")
        assert status == 200
        assert (
            b'modelmon_dead_letters_total{error_type="InvalidEventError",service="svc"} 1.0' in body
        )
    finally:
        server.stop()
    ((topic, key, value),) = sent
    assert (topic, key) == ("dl", b"m")
    assert DeadLetterRecord.model_validate_json(value) == record
    assert (record.source_topic, record.source_partition, record.source_offset) == ("t", 1, 7)


def test_dead_letter_record_keeps_the_original_bytes_and_reason() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rec = dead_letter_record(service="x", original=b"\x00\xff", error=ValueError(), failed_at=at)
    assert base64.b64decode(rec.original) == b"\x00\xff"
    assert (rec.reason, rec.error_type, rec.model_id) == ("ValueError", "ValueError", None)


def test_stop_flag() -> None:
    flag = StopFlag()
    assert not flag.is_set() and not flag.wait(0)
    flag.set()
    assert flag.is_set()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_probe_when_dead(path: str) -> None:
    health = Health()
    health.alive = False
    health.set_ready(False, "stopping")
    assert health.probe(path)[0] == 503


def test_capture_drops_are_a_total_counter_per_reason() -> None:
    """modelmon_capture_dropped_total is a counter (one series per reason), not a gauge."""
    from prometheus_client import CollectorRegistry, generate_latest

    from modelmon.capture.metrics import register_drop_counter

    class Client:
        def __init__(self) -> None:
            self.drops = {"buffer_full": 3, "invalid": 1}

        def drop_counts(self) -> dict[str, int]:
            return dict(self.drops)

    registry, client = CollectorRegistry(), Client()
    register_drop_counter(client, registry)
    text = generate_latest(registry).decode()
    assert re.search(r"# TYPE modelmon_capture_dropped(_total)? counter\n", text)
    assert 'modelmon_capture_dropped_total{reason="buffer_full"} 3.0' in text
    client.drops["buffer_full"] = 5
    total = registry.get_sample_value("modelmon_capture_dropped_total", {"reason": "buffer_full"})
    assert total == 5
    assert "gauge" not in text
