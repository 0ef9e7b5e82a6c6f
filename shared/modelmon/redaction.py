"""Redaction of named fields (PII): the one function every capture point applies.

A ``RedactionPolicy`` names fields to drop and fields to replace by a keyed digest. Rules
match **case-insensitively** and **at any depth**: a rule ``email`` matches a key ``Email``
in ``inputs``, in ``outputs``, in ``metadata`` and anywhere inside a raw JSON body; a dotted
rule ``customer.email`` matches a key path that ends with those segments (list indices are
skipped). Input names containing dots (``customer.email``) are split the same way.

Where it is applied (see docs/security.md): the SDK, the capture proxy and ingest before an
event reaches Kafka; the archiver again before writing; and every dead letter of a capture
point (``redact_bytes``): the dead-lettered bytes carry the redacted form, or nothing.

- Hashing: ``hmac-sha256:<hex>.<tag>`` where ``hex`` is HMAC-SHA256(key, value) and ``tag``
  a keyed MAC of ``hex``. A value that already has that form passes unchanged only if its tag
  verifies under the key, which the input cannot forge; anything else is hashed.
- Raw bodies: JSON structurally; CSV row by row with the feature names (a dropped cell
  becomes empty so columns keep their positions); a body that cannot be redacted (BASE64,
  CSV whose width differs from the names) is removed.
- Header-less CSV: inputs named ``_c0.._cN`` (no feature names known) cannot be matched
  by name. Under a non-empty policy such an event is refused (``UnredactableError``) unless
  a rule names positional columns (``_c3``) itself: give the model config its feature names.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from modelmon.errors import ConfigurationError, PermanentError
from modelmon.events import CaptureEvent, Outputs, Payload, Scalar
from modelmon.settings import CaptureSettings

HASH_PREFIX = "hmac-sha256:"
_TAG_CONTEXT = b"modelmon-redacted-v1\x00"
_HASHED = re.compile(r"^hmac-sha256:([0-9a-f]{64})\.([0-9a-f]{16})$")
_POSITIONAL = re.compile(r"^_c\d+$")
Action = Literal["drop", "hash"] | None


class UnredactableError(PermanentError):
    """An event whose fields cannot be matched by name while a redaction policy is set."""


def _path(name: str) -> tuple[str, ...]:
    return tuple(name.casefold().split("."))


@dataclass(frozen=True)
class RedactionPolicy:
    """Which fields to drop and which to hash (case-folded rules), and the HMAC key."""

    drop: frozenset[str] = frozenset()
    hash: frozenset[str] = frozenset()
    key: bytes = b""
    _rules: tuple[tuple[tuple[str, ...], Literal["drop", "hash"]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        drop = frozenset(n.casefold() for n in self.drop)
        hash_ = frozenset(n.casefold() for n in self.hash) - drop
        object.__setattr__(self, "drop", drop)
        object.__setattr__(self, "hash", hash_)
        rules = [(_path(n), "drop") for n in sorted(drop)] + [
            (_path(n), "hash") for n in sorted(hash_)
        ]
        object.__setattr__(self, "_rules", tuple(rules))

    @classmethod
    def of(cls, drop: Iterable[str], hash: Iterable[str], key: str | None) -> RedactionPolicy:
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
        return not self._rules

    @property
    def positional(self) -> bool:
        """Whether a rule names a header-less CSV column (``_c3``)."""
        return any(_POSITIONAL.match(p[-1]) for p, _ in self._rules)

    def action(self, path: tuple[str, ...]) -> Action:
        """What to do with the field at ``path`` (case-folded segments): drop wins over hash."""
        found: Action = None
        for rule, act in self._rules:
            if len(rule) <= len(path) and path[len(path) - len(rule) :] == rule:
                if act == "drop":
                    return "drop"
                found = act
        return found

    def touches(self, names: Iterable[str]) -> bool:
        return any(self.action(_path(n)) for n in names)


def is_hashed(value: str, key: bytes) -> bool:
    """Whether ``value`` is a digest made with ``key`` (its tag verifies)."""
    m = _HASHED.match(value)
    return m is not None and hmac.compare_digest(m.group(2), _tag(m.group(1), key))


def _tag(hex_digest: str, key: bytes) -> str:
    return hmac.new(key, _TAG_CONTEXT + hex_digest.encode(), hashlib.sha256).hexdigest()[:16]


def hash_value(value: Any, key: bytes) -> str:
    """``hmac-sha256:<hex>.<tag>`` of a value (strings as-is, anything else as sorted JSON).

    Idempotent for this key: a digest made with the same key is returned unchanged, so
    redacting at capture time and again in the archiver gives the same result.
    """
    if isinstance(value, str):
        if is_hashed(value, key):
            return value
        text = value.encode()
    else:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    digest = hmac.new(key, text, hashlib.sha256).hexdigest()
    return f"{HASH_PREFIX}{digest}.{_tag(digest, key)}"


def redact_inputs(inputs: dict[str, Scalar], policy: RedactionPolicy) -> dict[str, Scalar]:
    out: dict[str, Scalar] = {}
    for name, value in inputs.items():
        act = policy.action(_path(name))
        if act == "drop":
            continue
        out[name] = hash_value(value, policy.key) if act == "hash" and value is not None else value
    return out


def redact_json(doc: Any, policy: RedactionPolicy, path: tuple[str, ...] = ()) -> Any:
    """A copy of a JSON document with every matching key dropped or hashed, at any depth."""
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            sub = path + _path(str(k))
            act = policy.action(sub)
            if act == "drop":
                continue
            out[k] = (
                hash_value(v, policy.key)
                if act == "hash" and v is not None
                else redact_json(v, policy, sub)
            )
        return out
    if isinstance(doc, list):
        return [redact_json(v, policy, path) for v in doc]
    return doc


def _redact_csv(data: str, names: Sequence[str], policy: RedactionPolicy) -> str | None:
    rows = [r for r in csv.reader(io.StringIO(data)) if r]
    if not rows or any(len(r) != len(names) for r in rows):
        return None
    acts = [policy.action(_path(n)) for n in names]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow(
            [
                "" if a == "drop" else hash_value(c, policy.key) if a == "hash" and c else c
                for a, c in zip(acts, row, strict=True)
            ]
        )
    text = buf.getvalue()
    return text if data.endswith("\n") else text[:-1]


def redact_payload(
    payload: Payload | None, input_names: Sequence[str], policy: RedactionPolicy
) -> Payload | None:
    """A redacted copy of a raw body, or None when it cannot be redacted safely."""
    if payload is None:
        return None
    if payload.encoding == "JSON":
        try:
            doc = orjson.loads(payload.data)
        except orjson.JSONDecodeError:
            return None
        redacted = redact_json(doc, policy)
        if redacted == doc:
            return payload
        return payload.model_copy(update={"data": orjson.dumps(redacted).decode()})
    if payload.encoding == "CSV":
        data = _redact_csv(payload.data, input_names, policy)
        return None if data is None else payload.model_copy(update={"data": data})
    return None


def _redact_outputs(outputs: Outputs, policy: RedactionPolicy) -> Outputs:
    doc = outputs.model_dump(exclude_none=True)
    redacted = redact_json(doc, policy, ("outputs",))
    if redacted == doc:
        return outputs
    try:
        return Outputs.model_validate(redacted)
    except ValidationError as exc:  # a hashed number no longer fits its type: drop it
        bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
        return Outputs.model_validate({k: v for k, v in redacted.items() if k not in bad})


def _check_named(event: CaptureEvent, names: Sequence[str], policy: RedactionPolicy) -> None:
    if policy.positional or not any(_POSITIONAL.match(n) for n in names):
        return
    raise UnredactableError(
        f"model {event.model_id!r}: CSV columns have no names (_c0.._cN) while a redaction "
        "policy is set; give the model config its feature names (or rules such as _c3)"
    )


def redact_event(
    event: CaptureEvent, policy: RedactionPolicy, feature_names: Sequence[str] | None = None
) -> CaptureEvent:
    """The event with the policy applied to inputs, outputs, metadata and raw bodies.

    Returned unchanged (the same object) when nothing matches. Raises ``UnredactableError``
    for header-less CSV inputs under a non-empty policy (see the module doc).
    """
    if policy.empty:
        return event
    names = list(feature_names) if feature_names else list(event.inputs)
    _check_named(event, list(event.inputs), policy)
    update: dict[str, Any] = {
        "inputs": redact_inputs(event.inputs, policy),
        "outputs": _redact_outputs(event.outputs, policy),
    }
    if event.metadata:
        update["metadata"] = redact_json(event.metadata, policy, ("metadata",))
    if event.attributions:
        update["attributions"] = {
            k: v for k, v in event.attributions.items() if policy.action(_path(k)) != "drop"
        }
    if event.request is not None:
        update["request"] = redact_payload(event.request, names, policy)
    if event.response is not None and event.response.encoding != "CSV":
        update["response"] = redact_payload(event.response, [], policy)
    if all(v == getattr(event, k) for k, v in update.items()):
        return event
    return event.model_copy(update=update)


def redact_event_doc(doc: dict[str, Any], policy: RedactionPolicy) -> dict[str, Any]:
    """The SDK's hot path: an event document (before validation), redacted like an event."""
    if policy.empty:
        return doc
    inputs = doc.get("inputs") or {}
    if not policy.positional and any(_POSITIONAL.match(n) for n in inputs):
        raise UnredactableError(
            f"model {doc.get('model_id')!r}: inputs have no names (_c0.._cN) while a "
            "redaction policy is set; pass feature_names (or rules such as _c3)"
        )
    out = dict(doc, inputs=redact_inputs(inputs, policy))
    if doc.get("outputs"):
        outputs = _redact_outputs(Outputs.model_validate(doc["outputs"]), policy)
        out["outputs"] = outputs.model_dump(exclude_none=True)
    if doc.get("metadata"):
        out["metadata"] = redact_json(doc["metadata"], policy, ("metadata",))
    if doc.get("attributions"):
        out["attributions"] = {
            k: v for k, v in doc["attributions"].items() if policy.action(_path(k)) != "drop"
        }
    for part, names in (("request", list(inputs)), ("response", [])):
        if doc.get(part):
            body = redact_payload(Payload.model_validate(doc[part]), names, policy)
            out[part] = None if body is None else body.model_dump()
    return out


_UNREADABLE_DATA = frozenset({"CSV", "BASE64"})


def _redact_deep(doc: Any, policy: RedactionPolicy, names: Sequence[str]) -> Any:
    """Dead-letter documents: JSON inside string fields, and raw ``data`` fields, too."""
    if isinstance(doc, dict):
        enc = str(doc.get("encoding", "")).upper()
        out = {}
        for k, v in doc.items():
            if k == "data" and isinstance(v, str) and enc in _UNREADABLE_DATA:
                red = _redact_csv(v, names, policy) if enc == "CSV" and names else None
                if red is not None:
                    out[k] = red
                continue
            out[k] = _redact_deep(v, policy, names)
        return out
    if isinstance(doc, list):
        return [_redact_deep(v, policy, names) for v in doc]
    if isinstance(doc, str) and doc[:1] in ("{", "["):
        try:
            inner = orjson.loads(doc)
        except orjson.JSONDecodeError:
            return doc
        return orjson.dumps(redact_json(_redact_deep(inner, policy, names), policy)).decode()
    return doc


def _json_documents(raw: bytes) -> list[Any] | None:
    """One JSON document, or NDJSON lines; None if the bytes are neither."""
    try:
        return [orjson.loads(raw)]
    except orjson.JSONDecodeError:
        pass
    try:
        docs = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
    except orjson.JSONDecodeError:
        return None
    return docs or None


def redact_bytes(
    raw: bytes, policy: RedactionPolicy, feature_names: Sequence[str] | None = None
) -> bytes | None:
    """Bytes that failed somewhere (a dead letter), redacted; None if they cannot be.

    JSON (and NDJSON) documents are redacted at any depth, including JSON held in string
    fields and raw CSV bodies (with ``feature_names``); BASE64 bodies are removed. CSV with
    the feature names' width is redacted cell by cell. Anything else (a bare JSON scalar
    included, since nothing names it) cannot be: None.
    """
    if policy.empty:
        return raw
    names = [n for n in feature_names or [] if n]
    docs = _json_documents(raw)
    if docs is not None and all(isinstance(d, dict | list) for d in docs):
        red = [redact_json(_redact_deep(d, policy, names), policy) for d in docs]
        return b"\n".join(orjson.dumps(d) for d in red)
    if names and (policy.positional or not any(_POSITIONAL.match(n) for n in names)):
        try:
            text = _redact_csv(raw.decode("utf-8"), names, policy)
        except (UnicodeDecodeError, csv.Error):
            return None
        return None if text is None else text.encode()
    return None
