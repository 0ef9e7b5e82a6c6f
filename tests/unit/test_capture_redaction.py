"""Redaction (pure): one policy for inputs, outputs, metadata, raw bodies and dead letters.

Every rule matches case-insensitively at any depth; digests carry a keyed tag, so a value
that merely looks hashed is hashed again; header-less CSV needs names or positional rules.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from modelmon.errors import ConfigurationError, InvalidEventError
from modelmon.events import CaptureEvent, DeadLetterRecord, Outputs, Payload
from modelmon.redaction import (
    HASH_PREFIX,
    RedactionPolicy,
    UnredactableError,
    hash_value,
    is_hashed,
    redact_bytes,
    redact_event,
    redact_event_doc,
)
from modelmon.service import WITHHELD, DeadLetters
from modelmon.settings import CaptureSettings

POLICY = RedactionPolicy.of(drop=["ssn"], hash=["email"], key="key")
T = datetime(2026, 1, 1, tzinfo=UTC)
SSN, EMAIL = "123-45-6789", "jane@example.com"


def _row(data: str) -> list[str]:
    return next(csv.reader(io.StringIO(data)))


def _h(text: str) -> str:
    return hash_value(text, b"key")


def _hex(text: str) -> str:
    return hmac.new(b"key", text.encode(), hashlib.sha256).hexdigest()


def test_inputs_are_dropped_and_hashed_and_redaction_is_idempotent() -> None:
    event = CaptureEvent(model_id="m", event_time=T, inputs={"ssn": "1", "email": "a@b", "age": 3})
    once = redact_event(event, POLICY)
    assert once.inputs == {"email": _h("a@b"), "age": 3}
    assert str(once.inputs["email"]).startswith(HASH_PREFIX + _hex("a@b") + ".")
    assert redact_event(once, POLICY) == once
    assert hash_value(42, b"key").startswith(HASH_PREFIX + _hex("42") + ".")


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
        CaptureSettings(redact_drop=["SSN"], redact_hash=["email"], redaction_key=SecretStr("k"))
    )
    assert policy == RedactionPolicy(frozenset({"ssn"}), frozenset({"email"}), b"k")


# -- the holes of issue 21 ---------------------------------------------------------------


def _cases(name: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(name), max_size=len(name)).map(
        lambda ups: "".join(c.upper() if u else c for c, u in zip(name, ups, strict=True))
    )


_KEY = st.text("abcdefghij_", min_size=1, max_size=6).filter(
    lambda k: k.casefold() not in ("ssn", "email")
)


def _nest(leaf: dict[str, Any], path: list[str], in_list: list[bool]) -> dict[str, Any]:
    doc: Any = leaf
    for key, listed in zip(reversed(path), reversed(in_list), strict=True):
        doc = {key: [doc] if listed else doc}
    return dict(doc)


@settings(max_examples=150, deadline=None)
@given(
    ssn=_cases("ssn"),
    email=_cases("email"),
    path=st.lists(_KEY, max_size=4),
    listed=st.data(),
)
def test_field_names_match_in_any_case_at_any_depth(
    ssn: str, email: str, path: list[str], listed: st.DataObject
) -> None:
    in_list = listed.draw(st.lists(st.booleans(), min_size=len(path), max_size=len(path)))
    doc = _nest({ssn: SSN, email: EMAIL, "age": 3}, path, in_list)
    text = orjson.dumps(doc).decode()
    event = CaptureEvent(
        model_id="m", event_time=T, inputs={ssn: SSN, email: EMAIL, "age": 3},
        outputs=Outputs.model_validate({"prediction": 1, email: EMAIL, "detail": doc}),
        metadata={email: EMAIL, ssn: SSN},
        request=Payload(content_type="application/json", encoding="JSON", data=text),
        response=Payload(content_type="application/json", encoding="JSON", data=text),
    )  # fmt: skip
    dumped = redact_event(event, POLICY).model_dump_json()
    assert SSN not in dumped and EMAIL not in dumped
    assert _hex(EMAIL) in dumped
    raw = redact_bytes(event.model_dump_json().encode(), POLICY)
    assert raw is not None and SSN.encode() not in raw and EMAIL.encode() not in raw
    redacted_doc = redact_event_doc(orjson.loads(event.model_dump_json()), POLICY)
    assert SSN not in orjson.dumps(redacted_doc).decode()
    assert EMAIL not in orjson.dumps(redacted_doc).decode()


def test_dotted_rules_match_a_path_suffix() -> None:
    policy = RedactionPolicy.of(drop=["customer.email"], hash=[], key=None)
    doc = {
        "customer": {"Email": EMAIL, "age": 1},
        "email": "kept",
        "a": [{"customer": {"email": 1}}],
    }
    payload = Payload(content_type="application/json", encoding="JSON", data=orjson.dumps(doc))
    event = CaptureEvent(
        model_id="m", event_time=T, inputs={"customer.email": EMAIL}, request=payload
    )
    out = redact_event(event, policy)
    assert out.inputs == {}
    assert out.request is not None
    assert orjson.loads(out.request.data) == {
        "customer": {"age": 1},
        "email": "kept",
        "a": [{"customer": {}}],
    }


@settings(max_examples=100, deadline=None)
@given(value=st.text(max_size=80), fake_hex=st.text("0123456789abcdef", min_size=64, max_size=64))
def test_values_that_look_hashed_are_hashed_again(value: str, fake_hex: str) -> None:
    for forged in (
        HASH_PREFIX + value,
        HASH_PREFIX + fake_hex,
        f"{HASH_PREFIX}{fake_hex}.{'0' * 16}",
    ):
        out = hash_value(forged, b"key")
        assert out != forged and is_hashed(out, b"key")
        assert out == hash_value(out, b"key")  # idempotent for real digests
        assert not is_hashed(out, b"other key")  # another key's digest is not trusted
    event = CaptureEvent(model_id="m", event_time=T, inputs={"email": HASH_PREFIX + EMAIL})
    assert EMAIL not in redact_event(event, POLICY).model_dump_json()


def test_hashed_numeric_outputs_are_dropped_rather_than_mistyped() -> None:
    policy = RedactionPolicy.of(drop=[], hash=["probability", "prediction"], key="k")
    out = redact_event(
        CaptureEvent(
            model_id="m", event_time=T, inputs={}, outputs=Outputs(prediction=1, probability=0.5)
        ),
        policy,
    ).outputs
    assert out.probability is None and str(out.prediction).startswith(HASH_PREFIX)


@settings(max_examples=60, deadline=None)
@given(width=st.integers(1, 8), data=st.data())
def test_headerless_csv_is_refused_unless_named_or_positional(
    width: int, data: st.DataObject
) -> None:
    cells = data.draw(
        st.lists(st.text("0123456789-", min_size=1, max_size=9), min_size=width, max_size=width)
    )
    inputs: dict[str, Any] = {f"_c{i}": c for i, c in enumerate(cells)}
    body = Payload(content_type="text/csv", encoding="CSV", data=",".join(cells))
    event = CaptureEvent(model_id="m", event_time=T, inputs=inputs, request=body)
    with pytest.raises(UnredactableError, match="feature names"):
        redact_event(event, POLICY)
    with pytest.raises(UnredactableError):
        redact_event_doc(orjson.loads(event.model_dump_json()), POLICY)
    col = data.draw(st.integers(0, width - 1))
    positional = RedactionPolicy.of(drop=[f"_C{col}"], hash=[], key=None)
    out = redact_event(event, positional)
    assert f"_c{col}" not in out.inputs and out.request is not None
    assert _row(out.request.data)[col] == ""
    names = [f"f{i}" for i in range(width)]
    named = RedactionPolicy.of(drop=[f"F{col}"], hash=[], key=None)
    redacted = redact_bytes(",".join(cells).encode(), named, names)
    assert redacted is not None
    assert _row(redacted.decode()) == ["" if i == col else c for i, c in enumerate(cells)]
    assert redact_bytes(",".join(cells).encode(), named) is None


@settings(max_examples=100, deadline=None)
@given(ssn=_cases("ssn"), junk=st.binary(max_size=40), data_enc=st.sampled_from(["CSV", "BASE64"]))
def test_dead_letters_of_capture_points_carry_the_redacted_form_or_nothing(
    ssn: str, junk: bytes, data_enc: str
) -> None:
    sent: list[bytes] = []
    dead = DeadLetters(
        lambda t, k, v: sent.append(v), "dlq", "capture-proxy", CollectorRegistry(),
        redact=lambda raw: redact_bytes(raw, POLICY),
    )  # fmt: skip
    bad_event = orjson.dumps({"model_id": "m", "inputs": {ssn: SSN}, "event_time": "not a time"})
    record = {"captureData": {"endpointInput": {"data": f"{SSN},x", "encoding": data_enc}}}
    nested = orjson.dumps({"request": {"data": orjson.dumps({"Ssn": SSN}).decode()}})
    for raw in (
        bad_event,
        orjson.dumps(record),
        nested,
        junk + SSN.encode(),
        b"1,2\n" + SSN.encode(),
    ):
        dead.send(raw, InvalidEventError("bad"), model_id="m")
    for value in sent:
        rec = DeadLetterRecord.model_validate_json(value)
        assert SSN.encode() not in base64.b64decode(rec.original)
    withheld = [DeadLetterRecord.model_validate_json(v) for v in sent[-2:]]
    assert all(r.original == "" and r.reason.endswith(WITHHELD) for r in withheld)
    assert b"not a time" in base64.b64decode(DeadLetterRecord.model_validate_json(sent[0]).original)


def test_the_sdk_drops_unnamed_csv_inputs_under_a_policy_and_counts_them() -> None:
    from modelmon.capture import CaptureClient
    from modelmon.settings import Settings

    capture = CaptureSettings(redact_drop=["ssn"])
    with CaptureClient("m", settings=Settings(capture=capture)) as client:
        assert client.capture([SSN, 3], 1) is None  # a row without names: _c0, _c1
        assert client.drops == {"unredactable": 1}
    named = CaptureClient("m", settings=Settings(capture=capture), feature_names=["ssn", "age"])
    with named as client:
        assert client.capture([SSN, 3], 1) is not None  # named: ssn dropped, age kept
        assert client.drops == {}
