"""Turning one proxied exchange (request body, response body, status, latency) into events."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelmon.capture.sagemaker import format_time, from_sagemaker_record
from modelmon.errors import InvalidEventError
from modelmon.events import CaptureEvent


@dataclass(frozen=True)
class ContentTypes:
    """SageMaker's CaptureContentTypeHeader: which media types are captured as CSV / JSON."""

    csv: tuple[str, ...] = ("text/csv",)
    json: tuple[str, ...] = ("application/json",)

    def encoding(self, content_type: str | None) -> str | None:
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media in self.csv:
            return "CSV"
        if media in self.json:
            return "JSON"
        return None


@dataclass(frozen=True)
class Exchange:
    """One request/response pair as the proxy saw it."""

    request_type: str | None
    request_body: bytes
    response_type: str | None
    response_body: bytes
    status: int
    latency_ms: float
    inference_id: str | None
    at: datetime
    path: str
    request_encoding: str | None = None
    response_encoding: str | None = None


#: Largest body the proxy inflates for capture (``capture.max_decompressed_bytes``).
MAX_DECOMPRESSED = 8 * 1024 * 1024


def _plain(body: bytes, content_encoding: str | None, limit: int = MAX_DECOMPRESSED) -> bytes:
    """A body as the model saw it: gzip/deflate undone (for capture only), within ``limit``.

    Inflates at most ``limit + 1`` bytes (never the whole of a bomb): a body that would
    grow beyond ``limit`` raises ``InvalidEventError`` and is not captured.
    """
    enc = (content_encoding or "").strip().lower()
    if enc in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif enc == "deflate":
        inflater = zlib.decompressobj(zlib.MAX_WBITS if body[:1] == b"x" else -zlib.MAX_WBITS)
    else:
        return body
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise InvalidEventError(
            f"{enc} body inflates beyond {limit} bytes (capture.max_decompressed_bytes)"
        )
    if not inflater.eof:
        raise InvalidEventError(f"{enc} body is truncated")
    return out


def _part(mode: str, ctype: str | None, body: bytes, encoding: str) -> dict[str, Any]:
    return {
        "observedContentType": ctype or "",
        "mode": mode,
        "data": body.decode("utf-8"),
        "encoding": encoding,
    }


def exchange_events(
    ex: Exchange,
    *,
    model_id: str,
    variant: str,
    types: ContentTypes,
    feature_names: Sequence[str] | None = None,
    max_decompressed: int = MAX_DECOMPRESSED,
) -> list[CaptureEvent]:
    """The capture events of an exchange; [] when its request type is not captured.

    Bad bodies raise ``InvalidEventError`` (the caller dead-letters them). Outputs are parsed
    only from 2xx responses; the HTTP status always goes to ``metadata.http_status``.
    """
    req_enc = types.encoding(ex.request_type)
    if req_enc is None:
        return []
    try:
        request_body = _plain(ex.request_body, ex.request_encoding, max_decompressed)
        response_body = _plain(ex.response_body, ex.response_encoding, max_decompressed)
        capture_data: dict[str, Any] = {
            "endpointInput": _part("INPUT", ex.request_type, request_body, req_enc)
        }
        res_enc = types.encoding(ex.response_type)
        if res_enc is not None and 200 <= ex.status < 300:
            capture_data["endpointOutput"] = _part(
                "OUTPUT", ex.response_type, response_body, res_enc
            )
    except (OSError, zlib.error, UnicodeDecodeError) as exc:
        raise InvalidEventError(f"body cannot be read as text: {exc}") from exc
    meta: dict[str, Any] = {"eventId": str(uuid.uuid4()), "inferenceTime": format_time(ex.at)}
    if ex.inference_id:
        meta["inferenceId"] = ex.inference_id
    record = {"captureData": capture_data, "eventMetadata": meta, "eventVersion": "0"}
    events = from_sagemaker_record(
        record, model_id=model_id, variant=variant, feature_names=feature_names
    )
    extra = {"http_status": str(ex.status), "http_path": ex.path}
    return [
        e.model_copy(
            update={
                "latency_ms": ex.latency_ms,
                "source": "proxy",
                "metadata": {**(e.metadata or {}), **extra},
            }
        )
        for e in events
    ]
