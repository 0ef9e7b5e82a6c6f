"""Security holes of issue 21, on the real stack, through each service's own wiring (build).

PII never reaches Kafka (events or dead letters) from the proxy or ingest; names cannot
escape; bodies, decompression, slow clients and connections are bounded; ingest is closed
unless told otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from modelmon.errors import ConfigurationError
from modelmon.events import DeadLetterRecord
from modelmon.settings import Settings
from modelmon_services.capture_proxy.app import RUNNER_OPTIONS
from modelmon_services.capture_proxy.main import build as build_proxy
from modelmon_services.capture_proxy.main import proxy_limits
from modelmon_services.ingest.main import build as build_ingest
from modelmon_services.web_limits import HttpLimits, Site, start

from .test_archiver import consume_all
from .test_proxy import LoopThread, call, loop_thread

__all__ = ["loop_thread"]
SSN, EMAIL = "123-45-6789", "jane@example.com"
TOKEN = "t0ken-for-tests"


def _settings(settings: Settings, topic: str, dlq: str, **extra: Any) -> Settings:
    cap = {
        **settings.capture.model_dump(),
        "redact_drop": ["ssn"], "redact_hash": ["email"], "redaction_key": "k" * 32,
        **extra.pop("capture", {}),
    }  # fmt: skip
    return settings.model_copy(
        update={
            "topics": settings.topics.model_copy(update={"capture": topic, "deadletter": dlq}),
            "capture": type(settings.capture).model_validate(cap),
            "ingest": type(settings.ingest).model_validate(
                {**settings.ingest.model_dump(), **extra.pop("ingest", {})}
            ),
        }
    )


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


def _serve(lt: LoopThread, sites: list[Site]) -> list[int]:
    runners, ports = asyncio.run_coroutine_threadsafe(start(sites), lt.loop).result(30)
    lt.runners.extend(runners)
    return ports


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
    conf = _settings(settings, capture, dlq, capture={"max_decompressed_bytes": 65536})
    conf = conf.model_copy(
        update={"redis": conf.redis.model_copy(update={"key_prefix": redis_prefix})}
    )
    app, _, _ = build_proxy(conf, f"http://127.0.0.1:{upstream}", "sec-proxy", "AllTraffic")
    (port,) = _serve(loop_thread, [Site(app, "127.0.0.1", 0, HttpLimits(), RUNNER_OPTIONS)])
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


def test_ingest_redacts_in_any_case_refuses_escaping_names_and_open_start(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    loop_thread: LoopThread, eventually: Callable[..., Any],
) -> None:  # fmt: skip
    capture, dlq = new_topic(1), new_topic(1)
    with pytest.raises(ConfigurationError, match="MODELMON_INGEST__INSECURE=true"):
        build_ingest(_settings(settings, capture, dlq))
    conf = _settings(settings, capture, dlq, ingest={"token": TOKEN})
    app, admin, health = build_ingest(conf)
    health.set_ready(True)
    port, admin_port = _serve(
        loop_thread, [Site(app, "127.0.0.1", 0, HttpLimits()), Site(admin, "127.0.0.1", 0)]
    )
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
    events = consume_all(conf, capture, consumer_group, 1, eventually)
    dead = consume_all(conf, dlq, consumer_group + "-dlq", 2, eventually)
    _no_pii(events + dead)
    assert len(events) == 1
    assert call(port, "GET", "/metrics")[0] == 404
    assert call(admin_port, "GET", "/metrics")[0] == 200


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
    limits = {"proxy_max_body_bytes": 1000, "proxy_body_timeout_seconds": 1.0,
              "proxy_header_timeout_seconds": 1.0, "proxy_max_connections": 4}  # fmt: skip
    conf = _settings(settings, capture, dlq, capture=limits)
    app, _, _ = build_proxy(conf, f"http://127.0.0.1:{upstream}", "sec-slow", "AllTraffic")
    site = Site(app, "127.0.0.1", 0, proxy_limits(conf.capture), RUNNER_OPTIONS)
    (port,) = _serve(loop_thread, [site])
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

    from conftest import wait_until

    from .test_ingest import ROOT, _free_port, _status

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
        "MODELMON_CAPTURE__REDACT_HASH": '["email"]', "MODELMON_INGEST__ADMIN_PORT": str(admin),
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
