"""Security holes of issue 21, on the real stack, through each service's own wiring (build).

PII never reaches Kafka (events or dead letters) from the proxy or ingest; names cannot
escape; bodies, decompression, slow clients and connections are bounded; ingest is closed
unless told otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from conftest import wait_until
from modelmon.errors import ConfigurationError
from modelmon.events import DeadLetterRecord
from modelmon.runtime import Runtime, WebService
from modelmon.service import Health, StopFlag
from modelmon.settings import Settings
from modelmon_services.capture_proxy.main import build as build_proxy
from modelmon_services.ingest.main import build as build_ingest

from .test_archiver import consume_all
from .test_ingest import _free_port
from .test_proxy import LoopThread, call, loop_thread

__all__ = ["loop_thread"]
SSN, EMAIL = "123-45-6789", "jane@example.com"
TOKEN = "t0ken-for-tests"


def _settings(settings: Settings, topic: str, dlq: str, **sections: dict[str, Any]) -> Settings:
    """``settings`` with fresh topics, a redaction policy, free ports and ``sections`` on top."""
    doc = settings.model_dump()
    doc["topics"] |= {"capture": topic, "deadletter": dlq}
    doc["capture"] |= {"redact_drop": ["ssn"], "redact_hash": ["email"], "redaction_key": "k" * 32}
    doc["admin"] |= {"port": _free_port()}
    doc["ingest"] |= {"port": _free_port()}
    doc["capture_proxy"] |= {"port": _free_port()}
    for name, values in sections.items():
        doc[name] |= values
    for section in doc.values():  # secrets as their values, so that they validate again
        if isinstance(section, dict):
            for key, value in list(section.items()):
                if isinstance(value, SecretStr):
                    section[key] = value.get_secret_value()
    return Settings.model_validate(doc)


@contextlib.contextmanager
def running(name: str, build: Callable[[Runtime], WebService], conf: Settings) -> Iterator[None]:
    """The service's own ``build``, served by the runtime's WebService in a thread."""
    rt = Runtime(name, conf, CollectorRegistry(), StopFlag(), Health())
    service = build(rt)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: rt.health.ready, 30, f"{name} listening")
        yield
    finally:
        rt.stop.set()
        thread.join(30)


def _no_pii(messages: list[Any]) -> None:
    for m in messages:
        value = m.value()
        texts = [value]
        if b'"original"' in value:
            texts.append(base64.b64decode(DeadLetterRecord.model_validate_json(value).original))
        for text in texts:
            assert SSN.encode() not in text and EMAIL.encode() not in text, text[:300]


def echo_model() -> web.Application:
    """Answers every request with a prediction that carries PII in an extra output field."""

    async def invocations(request: web.Request) -> web.Response:
        await request.read()
        body = {"predictions": [{"predicted_label": 1, "score": 0.9, "Email": EMAIL}]}
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/invocations", invocations)
    return app


def _proxy_traffic(port: int) -> None:
    json_h = {"Content-Type": "application/json"}
    good = {"instances": [{"SSN": SSN, "EMAIL": EMAIL, "age": 3}]}
    assert call(port, "POST", "/invocations", json.dumps(good).encode(), json_h)[0] == 200
    csv_h = {"Content-Type": "text/csv"}
    assert call(port, "POST", "/invocations", f"{SSN},{EMAIL},3".encode(), csv_h)[0] == 200
    nested = {"instances": [{"age": 3, "Customer": {"Ssn": SSN}}]}  # not a flat row
    assert call(port, "POST", "/invocations", json.dumps(nested).encode(), json_h)[0] == 200
    broken = b'{"instances": [{"ssn": "' + SSN.encode() + b'", '  # cannot be parsed
    assert call(port, "POST", "/invocations", broken, json_h)[0] == 200
    bomb_doc = b'{"ssn": "' + SSN.encode() + b'", "pad": "' + b"0" * 300_000 + b'"}'
    gz = {**json_h, "Content-Encoding": "gzip"}
    assert call(port, "POST", "/invocations", gzip.compress(bomb_doc), gz)[0] == 200


def test_proxy_events_and_dead_letters_carry_no_pii_and_bombs_are_not_inflated(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    loop_thread: LoopThread, eventually: Callable[..., Any], redis_client: Any,
    redis_prefix: str,
) -> None:  # fmt: skip
    from modelmon.config import FeatureConfig, ModelConfig
    from modelmon.keys import Keys
    from modelmon.registry import Registry

    features = [FeatureConfig(name=n) for n in ("SSN", "email", "age")]  # header-less CSV names
    Registry(redis_client, Keys(redis_prefix)).register(
        ModelConfig(model_id="sec-proxy", features=features)
    )
    capture, dlq = new_topic(1), new_topic(1)
    upstream = loop_thread.serve(echo_model(), auto_decompress=False)
    proxy = {"upstream": f"http://127.0.0.1:{upstream}", "model": "sec-proxy",
             "max_decompressed_bytes": 65536}  # fmt: skip
    conf = _settings(
        settings, capture, dlq, capture_proxy=proxy, redis={"key_prefix": redis_prefix}
    )
    with running("capture-proxy", build_proxy, conf):
        _proxy_traffic(conf.capture_proxy.port)
    events = consume_all(conf, capture, consumer_group, 2, eventually)
    dead = consume_all(conf, dlq, consumer_group + "-dlq", 3, eventually)
    by_source = {json.loads(e.value())["request"]["content_type"]: e for e in events}
    from_csv = json.loads(by_source["text/csv"].value())  # named from the model config
    assert list(from_csv["inputs"]) == ["email", "age"] and from_csv["inputs"]["age"] == 3
    _no_pii(events + dead)
    records = [DeadLetterRecord.model_validate_json(m.value()) for m in dead]
    assert any("inflates beyond 65536" in r.reason for r in records)
    withheld = [r for r in records if "withheld" in r.reason]  # not redactable: no payload
    assert len(withheld) == 2 and all(r.original == "" for r in withheld)
    (kept,) = [r for r in records if r not in withheld]  # the redacted form of the body
    assert b'"Customer":{}' in base64.b64decode(kept.original)
    from_json = json.loads(by_source["application/json"].value())
    assert from_json["outputs"]["Email"].startswith("hmac-sha256:")


def _ingest_traffic(port: int, admin_port: int) -> None:
    headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {TOKEN}"}
    event = {
        "model_id": "sec-ingest", "event_time": "2026-01-01T00:00:00Z",
        "inputs": {"SSN": SSN, "Email": EMAIL, "age": 1},
        "outputs": {"prediction": 1, "EMAIL": EMAIL}, "metadata": {"ssN": SSN},
    }  # fmt: skip
    status = call(port, "POST", "/v1/capture", json.dumps(event).encode(), headers)[0]
    assert status == 202
    escaping = {**event, "variant": "../../../ESCAPED"}
    bad_time = {**event, "event_time": "yesterday"}
    body = (json.dumps(escaping) + "\n" + json.dumps(bad_time)).encode()
    status, _, _, answer = call(port, "POST", "/v1/capture", body, headers)
    assert status == 400 and b"variant" in answer
    for path in ("../../ESCAPED", "..%2F..%2FESCAPED"):
        q = f"/v1/capture?model=sec-ingest&variant={path}"
        record = {"captureData": {"endpointInput": {"observedContentType": "text/csv",
                  "mode": "INPUT", "data": "1,2", "encoding": "CSV"}},
                  "eventMetadata": {"eventId": "e", "inferenceTime": "2026-01-01T00:00:00Z"},
                  "eventVersion": "0"}  # fmt: skip
        assert call(port, "POST", q, json.dumps(record).encode(), headers)[0] == 400
    assert call(port, "GET", "/metrics")[0] == 404  # never on the ingest port
    assert call(admin_port, "GET", "/metrics")[0] == 200


def test_ingest_redacts_in_any_case_refuses_escaping_names_and_open_start(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    loop_thread: LoopThread, eventually: Callable[..., Any],
) -> None:  # fmt: skip
    capture, dlq = new_topic(1), new_topic(1)
    with pytest.raises(ConfigurationError, match="MODELMON_INGEST__INSECURE=true"):
        running("ingest", build_ingest, _settings(settings, capture, dlq)).__enter__()
    conf = _settings(settings, capture, dlq, ingest={"token": TOKEN})
    with running("ingest", build_ingest, conf):
        _ingest_traffic(conf.ingest.port, conf.admin.port or 0)
    events = consume_all(conf, capture, consumer_group, 1, eventually)
    dead = consume_all(conf, dlq, consumer_group + "-dlq", 2, eventually)
    _no_pii(events + dead)
    assert len(events) == 1


def _slow_client(port: int, head: bytes, trickle: bytes, pause: float, rounds: int) -> bytes:
    """Sends ``head``, then ``trickle`` every ``pause`` seconds; what the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        for _ in range(rounds):
            try:
                sock.sendall(trickle)
            except OSError:
                break
            time.sleep(pause)
        try:
            return sock.recv(65536)
        except OSError:
            return b""


def test_slow_clients_big_bodies_too_many_connections_and_disconnects_are_bounded(
    settings: Settings, new_topic: Callable[..., str], loop_thread: LoopThread,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    capture, dlq = new_topic(1), new_topic(1)
    upstream = loop_thread.serve(echo_model())
    proxy = {"upstream": f"http://127.0.0.1:{upstream}", "model": "sec-slow",
             "max_body_bytes": 1000, "body_timeout_seconds": 1.0,
             "header_timeout_seconds": 1.0, "max_connections": 4}  # fmt: skip
    conf = _settings(settings, capture, dlq, capture_proxy=proxy)
    with running("capture-proxy", build_proxy, conf):
        _slow_traffic(conf.capture_proxy.port, caplog)


def _slow_traffic(port: int, caplog: pytest.LogCaptureFixture) -> None:
    status, _, _, answer = call(port, "POST", "/invocations", b"x" * 5000)
    assert status == 413 and b"limit of 1000" in answer
    head = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n"
    answer = _slow_client(port, head, b"a", 0.3, 20)  # would take 6 s: cut after 1 s
    assert answer.startswith(b"HTTP/1.1 408")
    assert _slow_client(port, b"POST /invoc", b"a", 0.3, 20) == b""  # head never completes
    socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(8)]
    try:
        closed = 0
        for s in socks:
            s.settimeout(3)
            with contextlib.suppress(TimeoutError):
                closed += s.recv(1) == b""
        assert closed >= 4  # the ones over the limit were closed at once
    finally:
        for s in socks:
            s.close()
    caplog.set_level(logging.DEBUG)
    for _ in range(5):  # the client leaves mid-body
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\nab")
    time.sleep(1.5)
    assert call(port, "POST", "/invocations", b'{"instances": []}',
                {"Content-Type": "application/json"})[0] == 200  # fmt: skip
    noisy = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert noisy == [], [r.getMessage() for r in noisy]


def test_no_secret_reaches_a_log_line_at_debug(
    settings: Settings, new_topic: Callable[..., str], loop_thread: LoopThread, tmp_path: Any,
) -> None:  # fmt: skip
    """Ingest and the proxy at DEBUG with a token, a redaction key and a Kafka password set."""
    import os
    import subprocess

    from .test_ingest import ROOT, _status

    secrets = {
        "MODELMON_INGEST__TOKEN": "tok-" + "a1" * 12,
        "MODELMON_CAPTURE__REDACTION_KEY": "key-" + "b2" * 12,
        "MODELMON_KAFKA__SASL_PASSWORD": "pw-" + "c3" * 12,
        "MODELMON_KAFKA__SASL_USERNAME": "user",
    }
    upstream = loop_thread.serve(echo_model())
    port, admin, proxy_port, proxy_admin = (_free_port() for _ in range(4))
    env = {
        **os.environ, **secrets, "MODELMON_LOG_LEVEL": "DEBUG",
        "MODELMON_TOPICS__CAPTURE": new_topic(1), "MODELMON_TOPICS__DEADLETTER": new_topic(1),
        "MODELMON_CAPTURE__REDACT_HASH": '["email"]', "MODELMON_ADMIN__PORT": str(admin),
        "MODELMON_CAPTURE__FEATURE_NAMES": '{"sec-log": ["email", "age"]}',
    }  # fmt: skip
    modelmon = str(ROOT / ".venv/bin/modelmon")
    log = (tmp_path / "services.log").open("wb")
    procs = [
        subprocess.Popen([modelmon, "run", "ingest", "--port", str(port)], env=env,
                         stdout=log, stderr=log),
        subprocess.Popen([modelmon, "run", "capture-proxy", "--upstream",
                          f"http://127.0.0.1:{upstream}", "--model", "sec-log",
                          "--port", str(proxy_port), "--admin-port", str(proxy_admin)],
                         env=env, stdout=log, stderr=log),
    ]  # fmt: skip
    try:
        wait_until(lambda: _status(admin, "/readyz") == 200, 60, "ingest ready")
        wait_until(lambda: _status(proxy_admin, "/readyz") == 200, 60, "proxy ready")
        auth = {"Authorization": f"Bearer {secrets['MODELMON_INGEST__TOKEN']}"}
        event = {"model_id": "sec-log", "event_time": "2026-01-01T00:00:00Z",
                 "inputs": {"email": EMAIL, "age": 1}}  # fmt: skip
        for headers in (auth, {"Authorization": "Bearer wrong"}, {}):
            call(port, "POST", "/v1/capture", json.dumps(event).encode(), headers)
        call(port, "POST", "/v1/capture", b"{broken", auth)
        csv_h = {"Content-Type": "text/csv", **auth}
        call(proxy_port, "POST", "/invocations", f"{EMAIL},3".encode(), csv_h)
        call(proxy_port, "POST", "/invocations", b"{", {"Content-Type": "application/json"})
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    text = (tmp_path / "services.log").read_text()
    assert '"level": "DEBUG"' in text or "DEBUG" in text  # the services did log at DEBUG
    leaked = [name for name, value in secrets.items() if len(value) > 8 and value in text]
    assert leaked == []
    assert EMAIL not in text
