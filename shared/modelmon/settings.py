"""Typed settings, read once in each entry point and passed in (never a module singleton).

Every field can be set from the environment with the ``MODELMON_`` prefix and ``__`` as the
nesting delimiter, e.g. ``MODELMON_KAFKA__BOOTSTRAP_SERVERS=broker:9092`` or
``MODELMON_REDIS__URL=redis://cache:6379/0``. Each service's options are a section of their
own (``MODELMON_AGGREGATOR__FLUSH_SECONDS``, ``MODELMON_CAPTURE_PROXY__UPSTREAM``); its
command-line flags are generated from the same fields (``modelmon.flags``), and
``docs/configuration.md`` from both (``make docs``). AWS endpoint and region also honour the
standard ``AWS_ENDPOINT_URL`` and ``AWS_DEFAULT_REGION`` variables, so boto3 tooling and
modelmon agree.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelmon.limits import LimitsSettings


class KafkaSettings(BaseModel):
    """Connection to Kafka. ``extra`` is passed verbatim to librdkafka (SASL, SSL, tuning)."""

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str | None = None  # PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL
    sasl_mechanism: str | None = None  # PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    client_id: str = "modelmon"
    extra: dict[str, str] = Field(default_factory=dict)

    def librdkafka_config(self) -> dict[str, Any]:
        """The common client configuration for confluent-kafka producers and consumers."""
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
        }
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
            "ssl.certificate.location": self.ssl_certificate_location,
            "ssl.key.location": self.ssl_key_location,
        }
        conf.update({k: v for k, v in optional.items() if v is not None})
        conf.update(self.extra)
        return conf


class TopicSettings(BaseModel):
    """Topic names and the partition counts the stack creates them with."""

    capture: str = "modelmon.capture.v1"
    alerts: str = "modelmon.alerts.v1"
    deadletter: str = "modelmon.deadletter.v1"
    labels: str = "modelmon.labels.v1"
    #: explainer output: capture-schema events with ``attributions`` (docs/attribution.md)
    attributions: str = "modelmon.attributions.v1"
    registry: str = "modelmon.registry.v1"  # compacted backup of models and baselines
    capture_partitions: int = 6
    alerts_partitions: int = 3
    deadletter_partitions: int = 3
    labels_partitions: int = 6
    attributions_partitions: int = 6
    replication_factor: int = 1


class RedisSettings(BaseModel):
    """Connection to Redis and the prefix every modelmon key starts with."""

    url: str = Field(
        default="redis://127.0.0.1:6379/0",
        description="rediss://host:port/db for TLS; redis+cluster://host:port[,host:port] for "
        "a Redis Cluster; redis+sentinel://host:port[,host:port]/<master>[/<db>] for Sentinel",
    )
    key_prefix: str = "modelmon"
    username: str | None = Field(default=None, description="ACL user (else the URL's)")
    password: SecretStr | None = Field(default=None, description="ACL password (else the URL's)")
    ssl_ca_certs: str | None = Field(default=None, description="CA bundle for rediss:// URLs")
    ssl_certfile: str | None = Field(default=None, description="client certificate (mutual TLS)")
    ssl_keyfile: str | None = None


def _default_aws_endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL") or None


def _default_aws_region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or "us-east-1"


class AwsSettings(BaseModel):
    """AWS region and endpoint (an emulator such as moto's server, or None for real AWS)."""

    region: str = Field(default_factory=_default_aws_region)
    endpoint_url: str | None = Field(default_factory=_default_aws_endpoint)
    s3_encryption: Literal["AES256", "aws:kms"] = Field(
        default="AES256", description="server-side encryption of every object modelmon writes"
    )
    s3_kms_key_id: str | None = Field(
        default=None, description="SSE-KMS key for every S3 write (implies aws:kms)"
    )


class CaptureSettings(BaseModel):
    """Capture on the way in (SDK, proxy, ingest): sampling, content types, redaction.

    Redaction applies before an event reaches Kafka, and the archiver applies it again:
    ``redact_drop`` fields are removed, ``redact_hash`` fields become HMAC-SHA256 hex digests
    keyed by ``redaction_key`` (e.g. ``MODELMON_CAPTURE__REDACT_HASH='["email"]'``).
    """

    sampling_percentage: float = Field(default=100.0, ge=0, le=100)
    buffer_max_messages: int = Field(default=100_000, ge=1)
    csv_content_types: list[str] = Field(default_factory=lambda: ["text/csv"])
    json_content_types: list[str] = Field(default_factory=lambda: ["application/json"])
    inference_id_header: str = "X-Inference-Id"
    max_payload_bytes: int = Field(default=1_048_576, ge=1)
    feature_names: dict[str, list[str]] = Field(
        default_factory=dict, description="model id -> CSV column names (else _c0.._cN)"
    )
    redact_drop: list[str] = Field(default_factory=list)
    redact_hash: list[str] = Field(default_factory=list)
    redaction_key: SecretStr | None = None


class ArchiverSettings(BaseModel):
    """``modelmon run archiver``: where capture files go and when they roll."""

    destination: str = Field(
        default=".modelmon/archive", description="s3://bucket/prefix or a local directory"
    )
    group_id: str = "modelmon-archiver"
    gzip: bool = False
    roll_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    roll_seconds: float = Field(default=60.0, gt=0)
    kms_key_id: str | None = Field(default=None, description="SSE-KMS key id for S3 objects")
    encryption_key: SecretStr | None = Field(
        default=None, description="base64 AES-256 key: AES-GCM for the local archive"
    )


class IngestSettings(BaseModel):
    """``modelmon run ingest``: ``POST /v1/capture`` (/metrics on the admin port only)."""

    host: str = "127.0.0.1"
    port: int = 8090
    token: SecretStr | None = Field(
        default=None, description="bearer token; required unless insecure"
    )
    insecure: bool = Field(
        default=False, description="start without a token: anyone may POST (demo and tests)"
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request body not read by then is a 408"
    )
    header_timeout_seconds: float = Field(
        default=15.0, gt=0, description="a connection without a whole request head is closed"
    )
    max_connections: int = Field(default=1000, ge=1, description="open client connections")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_event_bytes: int = Field(default=1_048_576, ge=1)
    require_registered: bool = Field(
        default=False, description="reject events of models not in the registry (Redis)"
    )


#: Each service's admin port when ``admin.port`` is unset (they differ so that all of them can
#: run on one host, as in ``modelmon demo``).
ADMIN_PORTS = {
    "aggregator": 9110,
    "detector": 9111,
    "alerting": 9108,
    "archiver": 9102,
    "capture-proxy": 9101,
    "ingest": 9103,
    "api": 9104,
    "labeljoin": 9112,
    "explainer": 9113,
}


class AdminSettings(BaseModel):
    """``/healthz`` ``/readyz`` ``/metrics`` of every service (``/metrics`` only there).

    The container image sets ``MODELMON_ADMIN__HOST=0.0.0.0`` so that kubelet probes and
    Prometheus reach it inside a pod; outside a container it stays on loopback.
    """

    host: str = Field(default="127.0.0.1", description="0.0.0.0: every interface")
    port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="unset: the service's own ("
        + ", ".join(f"{name} {port}" for name, port in ADMIN_PORTS.items())
        + "); 0: any free port",
    )

    def port_of(self, service: str) -> int:
        """The port ``service`` listens on."""
        return ADMIN_PORTS.get(service, 0) if self.port is None else self.port


class AggregatorSettings(BaseModel):
    """``modelmon run aggregator``: capture topic -> windowed partition profiles in Redis."""

    topic: str | None = Field(default=None, description="default: topics.capture")
    group: str = Field(
        default="modelmon-aggregator", description="Kafka consumer group shared by all aggregators"
    )
    batch_size: int = Field(
        default=20_000,
        ge=1,
        description="messages per consume() call: each partition's share of a batch is decoded "
        "and folded in at once, so larger batches spread the fixed cost of a profile update "
        "(the pre-fetch limit, 16 MiB unless set, bounds a batch's bytes)",
    )
    flush_events: int = Field(
        default=100_000, ge=1, description="flush to Redis after this many messages..."
    )
    flush_seconds: float = Field(
        default=1.0, gt=0, description="...or after this many seconds, whichever comes first"
    )
    flush_bytes_per_event: float = Field(
        default=64.0,
        ge=0,
        description="a flush writes a partition's partials when that costs at most this many "
        "bytes per event since its last write, or a window completed, or flush_max_seconds "
        "passed (0: write every flush); docs/decisions/0004-partial-flush.md",
    )
    flush_max_seconds: float = Field(
        default=10.0, gt=0, description="longest a partition's events wait to be written"
    )


class DetectorSettings(BaseModel):
    """``modelmon run detector``: evaluate complete windows against baselines."""

    topic: str | None = Field(default=None, description="default: topics.capture")
    alerts_topic: str | None = Field(default=None, description="default: topics.alerts")
    out: str | None = Field(
        default=None,
        description="directory or s3://bucket/prefix for statistics.json and "
        "constraint_violations.json",
    )
    interval: float = Field(default=0.5, gt=0, description="seconds between passes")
    failed_retry_seconds: float = Field(
        default=120.0,
        gt=0,
        description="first retry of a window that could not be evaluated (doubles, to 1 h)",
    )
    shards: int = Field(
        default=1, ge=1, le=4096, description="detector processes sharing the models (issue 23)"
    )
    shard_index: int = Field(
        default=0, ge=0, description="this process's shard, 0..shards-1 (e.g. the pod ordinal)"
    )
    baseline_cache_bytes: int = Field(
        default=256 * 1024 * 1024, ge=0, description="LRU of parsed baselines, by stored size"
    )
    partial_ttl_seconds: int = Field(
        default=3600, ge=60, description="how long an evaluated window's partials stay in Redis"
    )
    repair_seconds: float = Field(
        default=3600.0, gt=0, description="how often the bounded repair sweep of the index runs"
    )
    repair_lookback_seconds: int = Field(
        default=2 * 3600,
        ge=0,
        description="close times below each model's cursor the repair sweep re-reads",
    )

    @model_validator(mode="after")
    def _shard_in_range(self) -> DetectorSettings:
        if self.shard_index >= self.shards:
            raise ValueError(f"shard_index {self.shard_index} must be below shards {self.shards}")
        return self


class ResultsSettings(BaseModel):
    """Window results in two tiers (issue 23): Redis holds the recent ones (the live path and
    the dashboard), durable storage (Parquet under the report layout) holds every one."""

    hot_retention_seconds: int = Field(
        default=86_400, ge=60, description="results and feature series kept in Redis"
    )
    durable: str | None = Field(
        default=None,
        description="s3://bucket/prefix or a directory for every result as Parquet "
        "(default: detector.out; unset both: Redis only)",
    )
    durable_retention_days: int = Field(
        default=400, ge=1, description="results older than this are deleted from durable storage"
    )


class AlertingSettings(BaseModel):
    """``modelmon run alerting``: route the alerts topic to CloudWatch, SNS and webhooks."""

    topic: str | None = Field(default=None, description="default: topics.alerts")
    group: str = Field(default="modelmon-alerting", description="Kafka consumer group")
    default_sns_topic: str | None = Field(
        default=None, description="SNS topic ARN for models whose config names none"
    )
    cloudwatch: bool = Field(
        default=True, description="publish window metrics to CloudWatch (off: no AWS needed)"
    )
    concurrency: int = Field(
        default=4, ge=1, le=64, description="deliveries of one event sent at the same time"
    )
    dedup_hours: float = Field(
        default=48.0,
        gt=0,
        description="how long handled event ids are remembered (replays within it are no-ops)",
    )
    max_attempts: int = Field(
        default=5, ge=1, description="tries per delivery before it is dead-lettered"
    )
    backoff_base: float = Field(
        default=0.5, gt=0, description="first retry delay in seconds (doubles, with jitter)"
    )
    backoff_max: float = Field(default=30.0, gt=0, description="longest retry delay in seconds")


class CaptureProxySettings(BaseModel):
    """``modelmon run capture-proxy``: a reverse proxy in front of a model server."""

    upstream: str | None = Field(
        default=None, description="the model server, e.g. http://127.0.0.1:8000 (required)"
    )
    model: str | None = Field(
        default=None, description="model id of the captured events (required)"
    )
    variant: str = Field(default="AllTraffic", description="variant of the captured events")
    host: str = Field(default="127.0.0.1", description="proxy listen address")
    port: int = Field(default=8080, ge=0, le=65535, description="proxy listen port")
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1, description="request and response bodies (413 / 502)"
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request body not read by then is a 408"
    )
    header_timeout_seconds: float = Field(
        default=15.0, gt=0, description="a connection without a whole request head is closed"
    )
    max_connections: int = Field(default=1000, ge=1, description="open client connections")
    max_decompressed_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1, description="gzip/deflate bodies inflate at most this"
    )


class ApiSettings(BaseModel):
    """The HTTP API and dashboard (``modelmon run api``).

    Tokens are bearer tokens: ``read_tokens`` may read everything, ``admin_tokens`` may also
    register models and push baselines. With no token configured the API refuses to start
    unless ``insecure`` is set (every request then counts as admin).
    """

    host: str = Field(default="127.0.0.1", description="listen address (0.0.0.0 in a pod)")
    port: int = Field(default=8000, ge=0, le=65535, description="listen port (0: any free one)")
    read_tokens: list[SecretStr] = Field(
        default_factory=list, description="bearer tokens that may read (16+ characters each)"
    )
    admin_tokens: list[SecretStr] = Field(
        default_factory=list, description="bearer tokens that may also register and push"
    )
    insecure: bool = Field(default=False, description="serve without tokens (local use only)")
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="larger request bodies get 413"
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="origins allowed cross-site (empty: CORS off)"
    )
    poll_seconds: float = Field(default=5.0, gt=0, description="dashboard refresh interval")
    heatmap_windows: int = Field(
        default=60, ge=1, le=1440, description="windows in the dashboard's heat map"
    )


class LabelJoinSettings(BaseModel):
    """The label join (``modelmon run labeljoin``): routing, join state and evaluation."""

    topic: str = Field(
        default="modelmon.labeljoin.v1",
        description="internal topic: predictions and labels keyed by inference id",
    )
    partitions: int = Field(default=6, ge=1, description="partitions of the internal topic")
    router_group: str = "modelmon-labeljoin-router"
    join_group: str = "modelmon-labeljoin"
    instance_id: str | None = Field(
        default=None,
        description="stable per process (e.g. the pod name): its transactional id; a restarted "
        "instance with the same id aborts its predecessor's open transaction at once",
    )
    flush_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=5000, ge=1)
    retention_seconds: int = Field(
        default=8 * 86400, ge=1, description="TTL of window partials (>= the longest horizon)"
    )
    reports: str | None = Field(
        default=None,
        description="directory or s3://bucket/prefix for model-quality report files "
        "({endpoint}/{schedule}/yyyy/mm/dd/hh/model-quality/); unset: none written",
    )


class ExplainerSettings(BaseModel):
    """``modelmon run explainer``: SHAP attributions of sampled captures (docs/explainer.md)."""

    topic: str | None = Field(
        default=None, description="captures to explain; default: topics.capture"
    )
    output_topic: str | None = Field(
        default=None,
        description="attribution events (capture-event schema, attributions filled); "
        "default: topics.attributions",
    )
    group: str = Field(default="modelmon-explainer", description="Kafka consumer group")
    instance_id: str | None = Field(
        default=None,
        description="stable per process (e.g. the pod name): its transactional id; a restarted "
        "instance with the same id aborts its predecessor's open transaction at once",
    )
    batch_size: int = Field(default=500, ge=1, description="captures per transaction")
    models_dir: str | None = Field(
        default=None, description="directory the model configs' explainer.model_path is below"
    )
    data_dir: str | None = Field(
        default=None, description="directory the model configs' explainer.background_path is below"
    )
    setup_retry_seconds: float = Field(
        default=60.0, gt=0, description="how long a model whose explainer failed to build waits"
    )


class Settings(BaseSettings):
    """Everything a modelmon process needs to reach its dependencies."""

    model_config = SettingsConfigDict(
        env_prefix="MODELMON_", env_nested_delimiter="__", extra="ignore"
    )

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    topics: TopicSettings = Field(default_factory=TopicSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    aws: AwsSettings = Field(default_factory=AwsSettings)
    capture: CaptureSettings = Field(default_factory=CaptureSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    aggregator: AggregatorSettings = Field(default_factory=AggregatorSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    results: ResultsSettings = Field(default_factory=ResultsSettings)
    alerting: AlertingSettings = Field(default_factory=AlertingSettings)
    archiver: ArchiverSettings = Field(default_factory=ArchiverSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    capture_proxy: CaptureProxySettings = Field(default_factory=CaptureProxySettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)  # issue 19: modelmon/limits.py
    api: ApiSettings = Field(default_factory=ApiSettings)
    labeljoin: LabelJoinSettings = Field(default_factory=LabelJoinSettings)
    explainer: ExplainerSettings = Field(default_factory=ExplainerSettings)
    log_level: str = "INFO"
    log_json: bool = True
    #: Decode capture batches with the native decoder (native/, built by scripts/venv.sh when
    #: cargo is there); false forces the pure-Python reference path (docs/decode.md).
    native: bool = True
