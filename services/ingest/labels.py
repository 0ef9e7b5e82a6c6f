"""``POST /v1/labels``: ground-truth labels in, with the capture endpoint's auth and limits.

A body is one label event, a JSON array of them, or NDJSON lines; each document is a modelmon
label event (``schemas/label-event.schema.json``) or a SageMaker ground-truth record (then
``?model=ID`` names the model). All or nothing, like ``/v1/capture``: one bad document answers
400 with the line and reason (and dead-letters it); otherwise every label is produced to
``modelmon.labels.v1`` keyed by its inference id and 202 is sent once Kafka acknowledged all.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from confluent_kafka import KafkaException
from pydantic import ValidationError

from modelmon.errors import InvalidEventError
from modelmon.http_limits import ClientGone, gone_quietly, read_body
from modelmon.quality.labels import LabelEvent, from_ground_truth

from .app import MAX_ERRORS, Ingest, _resolver, error
from .guard import dead_letter_capped
from .parse import LineError, split_documents

log = logging.getLogger(__name__)


def parse_labels(
    body: bytes, content_type: str, model: str | None, max_event_bytes: int, now: datetime
) -> tuple[list[LabelEvent], list[LineError], int]:
    """(label events, errors, documents) of a request body."""
    events: list[LabelEvent] = []
    errors: list[LineError] = []
    documents = 0
    for line, raw in split_documents(body, content_type):
        documents += 1
        if len(raw) > max_event_bytes:
            errors.append(LineError(line, f"label of {len(raw)} bytes exceeds the limit", raw))
            continue
        try:
            doc = orjson.loads(raw)
            for item in doc if isinstance(doc, list) else [doc]:
                events.append(_label(item, model, now))
        except orjson.JSONDecodeError as exc:
            errors.append(LineError(line, f"invalid JSON: {exc}", raw))
        except InvalidEventError as exc:
            errors.append(LineError(line, str(exc), raw))
    return events, errors, documents


def _label(doc: Any, model: str | None, now: datetime) -> LabelEvent:
    if isinstance(doc, dict) and "groundTruthData" in doc:
        if not model:
            raise InvalidEventError("a SageMaker ground-truth record needs ?model=ID")
        return from_ground_truth(doc, model, now)
    if not isinstance(doc, dict):
        raise InvalidEventError(f"expected a JSON object, got {type(doc).__name__}")
    try:
        return LabelEvent.model_validate({"source": "ingest", **doc})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "label"
        raise InvalidEventError(f"{where}: {err['msg']}") from exc


class LabelIngest:
    """The label route, sharing the capture route's producer, auth, limits and dead letters."""

    def __init__(self, ingest: Ingest, topic: str) -> None:
        self.ingest, self.topic = ingest, topic

    async def handle(self, request: web.Request) -> web.Response:
        ing = self.ingest
        if not ing._authorized(request):
            resp = error(401, "missing or wrong bearer token (Authorization: Bearer <token>)")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="modelmon"'
            return resp
        try:
            body = await read_body(request, ing.limits)  # the capture route's caps and timeouts
        except ClientGone as exc:
            return gone_quietly(exc)
        if isinstance(body, web.Response):
            return body
        if not body.strip():
            return error(400, "empty body: send one JSON label or NDJSON lines")
        events, errors, documents = parse_labels(
            body, request.headers.get("Content-Type", "application/json"),
            request.query.get("model"), ing.max_event_bytes, datetime.now(UTC),
        )  # fmt: skip
        if errors:
            dead_letter_capped(ing.dead_letters, errors)  # capped per request, redacted
            return error(
                400, f"{len(errors)} of {documents} documents invalid; nothing accepted",
                errors=[{"line": e.line, "error": e.error} for e in errors[:MAX_ERRORS]],
            )  # fmt: skip
        return await self._produce(events, documents)

    async def _produce(self, events: list[LabelEvent], documents: int) -> web.Response:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []
        try:
            for event in events:
                fut: asyncio.Future[None] = loop.create_future()
                self.ingest.producer.produce(
                    self.topic, event.model_dump_json(exclude_none=True).encode(),
                    event.inference_id.encode(), on_delivery=_resolver(loop, fut),
                )  # fmt: skip
                futures.append(fut)
            await asyncio.wait_for(asyncio.gather(*futures), self.ingest.ack_timeout)
        except (BufferError, KafkaException, TimeoutError) as exc:
            log.warning("ingest could not write labels to Kafka: %s", exc)
            resp = error(503, f"Kafka unavailable, retry later: {exc or type(exc).__name__}")
            resp.headers["Retry-After"] = "5"
            return resp
        return web.json_response(
            {"accepted": len(events), "documents": documents,
             "event_ids": [e.event_id for e in events]}, status=202,
        )  # fmt: skip
