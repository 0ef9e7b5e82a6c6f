"""Redaction (pure): drop and HMAC-hash named fields, in inputs and raw bodies, idempotently."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from modelmon.errors import ConfigurationError
from modelmon.events import CaptureEvent, Payload
from modelmon.redaction import RedactionPolicy, hash_value, redact_event
from modelmon.settings import CaptureSettings

POLICY = RedactionPolicy.of(drop=["ssn"], hash=["email"], key="key")
T = datetime(2026, 1, 1, tzinfo=UTC)


def _h(text: str) -> str:
    return "hmac-sha256:" + hmac.new(b"key", text.encode(), hashlib.sha256).hexdigest()


def test_inputs_are_dropped_and_hashed_and_redaction_is_idempotent() -> None:
    event = CaptureEvent(model_id="m", event_time=T, inputs={"ssn": "1", "email": "a@b", "age": 3})
    once = redact_event(event, POLICY)
    assert once.inputs == {"email": _h("a@b"), "age": 3}
    assert redact_event(once, POLICY) == once
    assert hash_value(42, b"key") == _h("42")


def test_raw_json_and_csv_bodies_are_redacted_base64_removed() -> None:
    body = '{"instances": [{"ssn": "1", "email": "a@b", "age": 3}]}'
    event = CaptureEvent(
        model_id="m", event_time=T, inputs={"ssn": "1", "email": "a@b", "age": 3},
        request=Payload(content_type="application/json", encoding="JSON", data=body),
    )  # fmt: skip
    out = redact_event(event, POLICY)
    assert out.request is not None
    assert out.request.data == '{"instances":[{"email":"' + _h("a@b") + '","age":3}]}'
    csv = event.model_copy(
        update={"request": Payload(content_type="text/csv", encoding="CSV", data="1,a@b,3")}
    )
    assert redact_event(csv, POLICY).request == Payload(
        content_type="text/csv", encoding="CSV", data="," + _h("a@b") + ",3"
    )
    b64 = event.model_copy(
        update={"request": Payload(content_type="x", encoding="BASE64", data="AA==")}
    )
    assert redact_event(b64, POLICY).request is None


def test_an_event_without_redacted_fields_is_returned_as_is() -> None:
    event = CaptureEvent(model_id="m", event_time=T, inputs={"age": 3})
    assert redact_event(event, POLICY) is event
    assert redact_event(event, RedactionPolicy()) is event


def test_hashing_without_a_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="MODELMON_CAPTURE__REDACTION_KEY"):
        RedactionPolicy.from_settings(CaptureSettings(redact_hash=["email"]))
    policy = RedactionPolicy.from_settings(
        CaptureSettings(redact_drop=["ssn"], redact_hash=["email"], redaction_key=SecretStr("k"))
    )
    assert policy == RedactionPolicy(frozenset({"ssn"}), frozenset({"email"}), b"k")
