"""One clear line when a command's Kafka or Redis is down, never librdkafka's raw log.

Commands probe what they need before they start (a metadata request, bounded) and, when it
does not answer, print ``modelmon <command>: Kafka at HOST:PORT is not reachable: start it with
`modelmon stack up`, or set MODELMON_KAFKA__BOOTSTRAP_SERVERS ...`` and exit 1.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import click

from modelmon.settings import KafkaSettings

KAFKA_VARIABLE = "MODELMON_KAFKA__BOOTSTRAP_SERVERS"
REDIS_VARIABLE = "MODELMON_REDIS__URL"
#: How long a probe waits for Kafka to answer a metadata request.
PROBE_SECONDS = 5.0

_quiet = logging.getLogger("modelmon.cli.kafka_client")
_quiet.propagate = False
_quiet.addHandler(logging.NullHandler())


def kafka_down(kafka: KafkaSettings) -> str:
    return (
        f"Kafka at {kafka.bootstrap_servers} is not reachable: start it with `modelmon stack up`, "
        f"or set {KAFKA_VARIABLE} to a running broker"
    )


def redis_down(url: str) -> str:
    return (
        f"Redis at {redacted(url)} is not reachable: start it with `modelmon stack up`, "
        f"or set {REDIS_VARIABLE} to a running server"
    )


def redacted(url: str) -> str:
    """The URL without its user and password."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def quiet_kafka(on_error: Any = None) -> dict[str, Any]:
    """librdkafka options that send its log to a silent logger and its errors to ``on_error``."""
    return {"logger": _quiet, "error_cb": on_error or (lambda _err: None)}


def kafka_reachable(kafka: KafkaSettings, timeout: float = PROBE_SECONDS) -> bool:
    """True when a broker answers a metadata request within ``timeout`` seconds."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**kafka.librdkafka_config(), **quiet_kafka()})
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return False


def fail(command: str, message: str) -> NoReturn:
    click.echo(f"modelmon {command}: {message}", err=True)
    sys.exit(1)


def require_kafka(command: str, kafka: KafkaSettings) -> None:
    """Exit 1 with one line if Kafka does not answer."""
    if not kafka_reachable(kafka):
        fail(command, kafka_down(kafka))
