"""``modelmon run ingest``: wiring and the two listeners (ingest, admin with /metrics)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_producer
from modelmon.errors import ConfigurationError
from modelmon.http_limits import HttpLimits, listener_options
from modelmon.limits import EventTimeBounds
from modelmon.redaction import RedactionPolicy, redact_bytes
from modelmon.registry import ModelCatalog, Registry
from modelmon.runtime import Listener, Runtime, WebService, service_command
from modelmon.service import DeadLetters, Health
from modelmon.settings import IngestSettings, Settings

from .app import Ingest, make_admin_app, make_app

QUIET: dict[str, Any] = {"access_log": None}
NO_TOKEN = (
    "ingest needs a bearer token: set MODELMON_INGEST__TOKEN, or run it open on purpose "
    "with --insecure / MODELMON_INGEST__INSECURE=true"
)


def _catalog(settings: Settings) -> ModelCatalog:
    from modelmon.adapters.redis import make_redis
    from modelmon.keys import Keys

    return ModelCatalog(Registry(make_redis(settings.redis), Keys(settings.redis.key_prefix)))


def ingest_limits(ing: IngestSettings) -> HttpLimits:
    return HttpLimits(
        ing.max_body_bytes, ing.body_timeout_seconds, ing.header_timeout_seconds,
        ing.max_connections,
    )  # fmt: skip


def make(
    settings: Settings, registry: CollectorRegistry, health: Health
) -> tuple[web.Application, web.Application]:
    """(ingest app, admin app); refuses to run without a token unless ``ingest.insecure``."""
    ing = settings.ingest
    token = ing.token.get_secret_value() if ing.token else None
    if not token and not ing.insecure:  # before connecting to anything
        raise ConfigurationError(NO_TOKEN)
    producer = make_producer(settings.kafka)
    redaction = RedactionPolicy.from_settings(settings.capture)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v),
        settings.topics.deadletter, "ingest", registry,
        redact=lambda raw: redact_bytes(raw, redaction),
    )  # fmt: skip
    ingest = Ingest(
        producer, settings.topics.capture, dead, registry,
        token=token or None, insecure=ing.insecure,
        max_body_bytes=ing.max_body_bytes, max_event_bytes=ing.max_event_bytes,
        limits=ingest_limits(ing), redaction=redaction,
        feature_names=settings.capture.feature_names,
        # the registry also names header-less CSV columns, which redaction needs
        catalog=_catalog(settings) if ing.require_registered or not redaction.empty else None,
        require_registered=ing.require_registered,
        bounds=EventTimeBounds.of(settings.limits),
    )  # fmt: skip
    return make_app(ingest, health, registry, settings.topics.labels), make_admin_app(
        health, registry
    )


def build(rt: Runtime) -> WebService:
    settings, ing = rt.settings, rt.settings.ingest
    app, admin = make(settings, rt.registry, rt.health)
    limits = ingest_limits(ing)
    listeners = [
        Listener(
            app, ing.host, ing.port, QUIET | listener_options(limits), "ingest",
            max_connections=limits.max_connections,
        ),
        Listener(admin, settings.admin.host, settings.admin.port_of(rt.name), QUIET, "admin"),
    ]  # fmt: skip
    return WebService(listeners, rt.health, rt.stop)


command = service_command(
    "ingest",
    build,
    admin_server=False,
    help="HTTP ingest: POST /v1/capture (JSON event, NDJSON, or SageMaker capture records) "
    "and POST /v1/labels (label events or SageMaker ground truth). "
    "Refuses to start without a token unless --insecure.",
)
