"""The model registry: each model's ModelConfig and baseline, stored in Redis.

Every change bumps one version counter (and announces it on a pub/sub channel), so a service
keeps a ``ModelCatalog`` that re-reads the registry when the counter moves: config changes
apply without a restart. A baseline is stored as its files (``statistics.json``,
``constraints.json``, ...) packed into one blob, so it round-trips byte for byte whichever
tool made it (``modelmon baseline create`` or SageMaker).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import msgspec
import redis
from pydantic import ValidationError

from modelmon.config import ModelConfig, endpoint_name
from modelmon.errors import BaselineError, ConfigurationError, DependencyUnavailableError
from modelmon.keys import Keys

log = logging.getLogger(__name__)

BASELINE_MAGIC = b"MMBL1\n"
#: Largest single baseline file accepted (SageMaker baselines are kilobytes to a few MB).
MAX_BASELINE_FILE = 64 * 1024 * 1024


def pack_baseline(files: Mapping[str, bytes]) -> bytes:
    """Baseline files (name -> bytes) as one blob."""
    return BASELINE_MAGIC + msgspec.msgpack.encode(dict(sorted(files.items())))


def unpack_baseline(blob: bytes) -> dict[str, bytes]:
    """The files of a packed baseline; raises BaselineError on a foreign or damaged blob."""
    if not blob.startswith(BASELINE_MAGIC):
        raise BaselineError("stored baseline has no modelmon header; push it again")
    try:
        files = msgspec.msgpack.decode(blob[len(BASELINE_MAGIC) :], type=dict[str, bytes])
    except msgspec.DecodeError as exc:
        raise BaselineError(f"stored baseline is damaged ({exc}); push it again") from exc
    return files


def read_baseline_dir(directory: Path) -> dict[str, bytes]:
    """A baseline directory's files (statistics.json, constraints.json and, when present,
    modelmon's profile.bin and modelmon.json), checked to load as a baseline."""
    from modelmon.checks.baseline import BASELINE_FILES

    if not directory.is_dir():
        raise BaselineError(f"{directory} is not a directory of baseline files")
    files = {n: (directory / n).read_bytes() for n in BASELINE_FILES if (directory / n).is_file()}
    return check_baseline_files(files, str(directory))


def check_baseline_files(files: Mapping[str, bytes], where: str) -> dict[str, bytes]:
    """The files checked to load as a baseline (the CLI's push and the API's upload share it):
    only known names, none over 64 MB, and the whole set loading as a ``Baseline``."""
    from modelmon.checks import Baseline
    from modelmon.checks.baseline import BASELINE_FILES

    unknown = sorted(set(files) - set(BASELINE_FILES))
    if unknown:
        raise BaselineError(
            f"unknown baseline files {', '.join(unknown)}; expected {', '.join(BASELINE_FILES)}"
        )
    too_big = [n for n, b in files.items() if len(b) > MAX_BASELINE_FILE]
    if too_big:
        raise BaselineError(f"baseline files larger than 64 MB: {', '.join(too_big)}")
    Baseline.from_files(files, where)  # fails early, naming the bad file
    return dict(files)


def parse_config(text: str | bytes) -> ModelConfig:
    """A ModelConfig from YAML or JSON text, with a fix-it message when it is invalid."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"model config is not valid YAML/JSON: {exc}") from exc
    return config_from_mapping(data)


class InvalidConfigError(ConfigurationError):
    """A model config that fails validation; ``fields`` names each bad field and why."""

    def __init__(self, message: str, fields: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


def config_from_mapping(data: object) -> ModelConfig:
    """A validated ModelConfig from parsed YAML/JSON (the CLI's register and the API's share it)."""
    if not isinstance(data, dict):
        raise InvalidConfigError(
            "model config must be a mapping with at least model_id",
            [("", "must be a mapping with at least model_id")],
        )
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as exc:
        fields = [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
        raise InvalidConfigError(f"model config is invalid:\n{exc}", fields) from exc


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One registered model as stored."""

    config: ModelConfig
    version: int
    changed_at_ms: int
    has_baseline: bool


class RegistryReader(Protocol):
    """What services read of the registry (``Registry`` on Redis; ``MemoryRegistry`` in tests)."""

    def version(self) -> int: ...

    def all(self) -> dict[str, ModelEntry]: ...

    def baseline_files(self, model_id: str) -> dict[str, bytes] | None: ...


class Registry:
    """Reads and writes models and baselines in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._r = client
        self._keys = keys

    def version(self) -> int:
        raw = self._r.get(self._keys.registry_version())
        return int(raw) if raw else 0

    def _bump(self, pipe: redis.client.Pipeline, model_id: str) -> None:
        pipe.incr(self._keys.registry_version())
        pipe.set(self._keys.generation(), uuid.uuid4().hex, nx=True)  # issue 19: generation.py

    def _announce(self, model_id: str) -> None:
        """Tell subscribers after the transaction (Redis Cluster runs no PUBLISH inside one;
        the version key, written in it, is what services poll)."""
        self._r.publish(self._keys.registry_channel(), model_id)

    def generation(self, create: bool = False) -> bytes | None:
        """The state's generation id (``create``: write one first if there is none)."""
        try:
            if create:
                self._r.set(self._keys.generation(), uuid.uuid4().hex, nx=True)
            raw: bytes | None = self._r.get(self._keys.generation())  # type: ignore[assignment]
        except redis.RedisError as exc:
            raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc
        return raw

    def register(self, config: ModelConfig, now_ms: int | None = None) -> int:
        """Store (or replace) a model's config; returns the new registry version."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        key = self._keys.model_config(config.model_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"config": config.model_dump_json(), "changed_at": now})
        pipe.hincrby(key, "version", 1)
        pipe.sadd(self._keys.models(), config.model_id)
        self._bump(pipe, config.model_id)
        results = pipe.execute()
        self._announce(config.model_id)
        return int(results[3])

    def push_baseline(
        self, model_id: str, files: Mapping[str, bytes], source: str, now_ms: int | None = None
    ) -> int:
        """Store a model's baseline files; the model must be registered. Returns the version."""
        if self.get(model_id) is None:
            raise ConfigurationError(
                f"model {model_id!r} is not registered; run `modelmon model register` first"
            )
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        key = self._keys.baseline(model_id)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"blob": pack_baseline(files), "source": source, "changed_at": now})
        pipe.hincrby(key, "version", 1)
        self._bump(pipe, model_id)
        results = pipe.execute()
        self._announce(model_id)
        return int(results[2])

    def get(self, model_id: str) -> ModelEntry | None:
        raw = cast(dict[bytes, bytes], self._r.hgetall(self._keys.model_config(model_id)))
        has_baseline = bool(self._r.exists(self._keys.baseline(model_id)))
        return _entry(raw, has_baseline) if raw else None

    def model_ids(self) -> list[str]:
        members = cast(set[bytes], self._r.smembers(self._keys.models()))
        return sorted(m.decode() for m in members)

    def all(self) -> dict[str, ModelEntry]:
        ids = self.model_ids()
        pipe = self._r.pipeline(transaction=False)
        for model_id in ids:
            pipe.hgetall(self._keys.model_config(model_id))
            pipe.exists(self._keys.baseline(model_id))
        raw: list[Any] = pipe.execute()
        out: dict[str, ModelEntry] = {}
        for model_id, cfg, has in zip(ids, raw[0::2], raw[1::2], strict=True):
            if cfg:
                out[model_id] = _entry(cfg, bool(has))
        return out

    def baseline_files(self, model_id: str) -> dict[str, bytes] | None:
        blob = cast(bytes | None, self._r.hget(self._keys.baseline(model_id), "blob"))
        return unpack_baseline(blob) if blob else None

    def baseline_versions(self, model_ids: list[str]) -> dict[str, int]:
        """Each model's baseline version (0: none): what a cache checks to drop only the
        baselines that changed (issue 23)."""
        pipe = self._r.pipeline(transaction=False)
        for model_id in model_ids:
            pipe.hget(self._keys.baseline(model_id), "version")
        raw: list[Any] = pipe.execute()
        return {m: int(v) if v else 0 for m, v in zip(model_ids, raw, strict=True)}


def _entry(raw: Mapping[bytes, bytes], has_baseline: bool) -> ModelEntry:
    return ModelEntry(
        config=ModelConfig.model_validate_json(raw[b"config"]),
        version=int(raw.get(b"version", b"0")),
        changed_at_ms=int(raw.get(b"changed_at", b"0")),
        has_baseline=has_baseline,
    )


class ModelCatalog:
    """A service's cached view of the registry, re-read when the registry version moves.

    ``refresh()`` costs one GET when nothing changed; services call it every batch and it
    polls Redis at most every ``poll_seconds``.
    """

    def __init__(self, registry: RegistryReader, poll_seconds: float = 1.0) -> None:
        self._registry = registry
        self._poll = poll_seconds
        self._version = -1
        self._checked = float("-inf")
        self.models: dict[str, ModelEntry] = {}

    def refresh(self, force: bool = False) -> bool:
        """Reload if the registry changed; True when it did."""
        now = time.monotonic()
        if not force and now - self._checked < self._poll:
            return False
        self._checked = now
        version = self._registry.version()
        if version == self._version:
            return False
        self.models = self._registry.all()
        self._version = version
        log.info("model registry loaded", extra={"version": version, "models": len(self.models)})
        return True

    def config(self, model_id: str) -> ModelConfig | None:
        entry = self.models.get(model_id)
        return entry.config if entry else None

    def endpoint_name(self, model_id: str) -> str:
        """The model's endpoint name (``modelmon.config.endpoint_name``'s rule), registry
        re-read first; raises DependencyUnavailableError while Redis is down."""
        self.refresh()
        return endpoint_name(model_id, self.config(model_id))
