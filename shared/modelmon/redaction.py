"""Redaction of named input fields (PII) before an event is produced, archived or aggregated.

Pure functions: a ``RedactionPolicy`` names fields to drop and fields to replace by an
HMAC-SHA256 digest ``hmac-sha256:<hex>`` (keyed: equal values still join and group, but
cannot be reversed without the key). Raw request/response payloads are redacted too: JSON
bodies structurally, single-row CSV bodies cell by cell (a dropped cell becomes empty so
columns keep their positions); a body that cannot be redacted safely (BASE64, CSV not
matching the inputs) is removed from the event.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass
from typing import Any

import orjson

from modelmon.errors import ConfigurationError
from modelmon.events import CaptureEvent, Payload, Scalar
from modelmon.settings import CaptureSettings


@dataclass(frozen=True)
class RedactionPolicy:
    """Which input fields to drop and which to hash, and the HMAC key."""

    drop: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()
    key: bytes = b""

    @classmethod
    def of(cls, drop: list[str], hash: list[str], key: str | None) -> RedactionPolicy:
        return cls(frozenset(drop), frozenset(hash), (key or "").encode())

    @classmethod
    def from_settings(cls, capture: CaptureSettings) -> RedactionPolicy:
        """The policy in ``Settings.capture``; hashing without a key is refused."""
        key = capture.redaction_key.get_secret_value() if capture.redaction_key else None
        if capture.redact_hash and not key:
            raise ConfigurationError(
                "capture.redact_hash is set but no key: set MODELMON_CAPTURE__REDACTION_KEY"
            )
        return cls.of(capture.redact_drop, capture.redact_hash, key)

    @property
    def empty(self) -> bool:
        return not (self.drop or self.hash)

    def touches(self, names: Any) -> bool:
        return any(n in self.drop or n in self.hash for n in names)


HASH_PREFIX = "hmac-sha256:"


def hash_value(value: Scalar, key: bytes) -> str:
    """``hmac-sha256:<hex>`` of a value (strings as-is, other scalars as their JSON text).

    Idempotent: an already hashed value is returned unchanged, so redacting at capture time
    and again in the archiver gives the same result.
    """
    if isinstance(value, str) and value.startswith(HASH_PREFIX):
        return value
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return HASH_PREFIX + hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def redact_inputs(inputs: dict[str, Scalar], policy: RedactionPolicy) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for name, value in inputs.items():
        if name in policy.drop:
            continue
        out[name] = (
            hash_value(value, policy.key) if name in policy.hash and value is not None else value
        )
    return out


def _redact_json(doc: Any, policy: RedactionPolicy) -> Any:
    if isinstance(doc, dict):
        return {
            k: (
                hash_value(v, policy.key)
                if k in policy.hash and _scalar(v)
                else _redact_json(v, policy)
            )
            for k, v in doc.items()
            if k not in policy.drop
        }
    if isinstance(doc, list):
        return [_redact_json(v, policy) for v in doc]
    return doc


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _redact_csv(data: str, names: list[str], policy: RedactionPolicy) -> str | None:
    rows = [r for r in csv.reader(io.StringIO(data)) if r]
    if len(rows) != 1 or len(rows[0]) != len(names):
        return None
    cells = []
    for name, cell in zip(names, rows[0], strict=True):
        if name in policy.drop:
            cells.append("")
        elif name in policy.hash and cell != "":
            cells.append(hash_value(cell, policy.key))
        else:
            cells.append(cell)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue() + ("\n" if data.endswith("\n") else "")


def redact_payload(
    payload: Payload | None, input_names: list[str], policy: RedactionPolicy
) -> Payload | None:
    """A redacted copy of a raw body, or None when it cannot be redacted safely."""
    if payload is None:
        return None
    if payload.encoding == "JSON":
        try:
            doc = orjson.loads(payload.data)
        except orjson.JSONDecodeError:
            return None
        redacted = _redact_json(doc, policy)
        if redacted == doc:
            return payload
        return payload.model_copy(update={"data": orjson.dumps(redacted).decode()})
    if payload.encoding == "CSV":
        data = _redact_csv(payload.data, input_names, policy)
        return None if data is None else payload.model_copy(update={"data": data})
    return None


def redact_event(event: CaptureEvent, policy: RedactionPolicy) -> CaptureEvent:
    """The event with the policy applied to inputs and raw bodies (unchanged if nothing to do)."""
    if policy.empty:
        return event
    names = list(event.inputs)
    touches_inputs = policy.touches(names)
    update: dict[str, Any] = {}
    if touches_inputs:
        update["inputs"] = redact_inputs(event.inputs, policy)
    if event.request is not None:
        update["request"] = redact_payload(event.request, names, policy)
    if event.response is not None and event.response.encoding != "CSV":
        update["response"] = redact_payload(event.response, [], policy)
    if all(update.get(k, getattr(event, k)) == getattr(event, k) for k in update):
        return event
    return event.model_copy(update=update)
