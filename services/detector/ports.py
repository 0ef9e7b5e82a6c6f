"""The detector's seams: what it reads and writes, each with a Redis and an in-memory side.

``streaming.reader.StateReader`` / ``streaming.memory.MemoryStateReader``,
``streaming.results.ResultStore`` / ``streaming.memory.MemoryResultStore``,
``registry.Registry`` / ``streaming.memory.MemoryRegistry``, a confluent-kafka consumer and
producer / ``adapters.fakes``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from modelmon.adapters.kafka import ConsumerPort, ProducerPort
from modelmon.events import WindowResult
from modelmon.keys import WindowRef
from modelmon.profile import DatasetProfile
from modelmon.registry import RegistryReader
from modelmon.streaming.reader import MergedWindow
from modelmon.streaming.results import WindowFailure
from modelmon.windows import PartitionProgress


class StateReaderPort(Protocol):
    """``streaming.reader.StateReader`` (``MemoryStateReader`` in tests)."""

    def progress(self, kafka_offsets: Mapping[int, tuple[int, int]]) -> list[PartitionProgress]: ...

    def windows(
        self, partitions: Iterable[int], max_close_ms: int, min_close_ms: int | None = None
    ) -> dict[WindowRef, int]: ...

    def scores(
        self, refs: Iterable[WindowRef], partitions: Iterable[int]
    ) -> dict[WindowRef, int]: ...

    def merged(self, window: WindowRef, partitions: Iterable[int]) -> MergedWindow: ...

    def expire_partials(
        self, window: WindowRef, partitions: Iterable[int], seconds: int
    ) -> None: ...


class ResultStorePort(Protocol):
    """``streaming.results.ResultStore`` (``MemoryResultStore`` in tests)."""

    def done(self, windows: Iterable[WindowRef]) -> set[WindowRef]: ...

    def claim(self, ref: WindowRef, ttl_seconds: int) -> bool: ...

    def release(self, ref: WindowRef) -> None: ...

    def finish(self, ref: WindowRef, evaluated_at_ms: int, ttl_seconds: int) -> None: ...

    def save_merged(self, ref: WindowRef, profile: DatasetProfile, ttl_seconds: int) -> None: ...

    def merged_profiles(self, refs: list[WindowRef]) -> list[DatasetProfile]: ...

    def save_result(self, result: WindowResult, rolling: bool, retention_ms: int) -> None: ...

    def record_failure(self, failure: WindowFailure, ttl_seconds: int) -> None: ...

    def failures(self, windows: Iterable[WindowRef]) -> dict[WindowRef, WindowFailure]: ...

    def due_retries(self, now_ms: int, limit: int = 1000) -> list[WindowRef]: ...

    def drop_retry(self, ref: WindowRef) -> None: ...

    def cursors(self) -> dict[str, int]: ...

    def save_cursors(self, cursors: Mapping[str, int]) -> None: ...


class DetectorRegistry(RegistryReader, Protocol):
    """``registry.Registry`` (``MemoryRegistry`` in tests), with per-model baseline versions."""

    def baseline_versions(self, model_ids: list[str]) -> dict[str, int]: ...


class DurableResultsPort(Protocol):
    """``streaming.tiers.DurableResults``: every result as Parquet under the report layout."""

    def write(self, result: WindowResult, report_path: str) -> None: ...

    def prune(self, endpoint_path: str, cutoff_ms: int, days_back: int = 7) -> int: ...


#: Writes one window's report files under a directory or s3:// URI.
WriteReports = Callable[[str, dict[str, str]], None]


@dataclass(frozen=True)
class DetectorPorts:
    """The detector's clients."""

    consumer: ConsumerPort  # offsets only (no group membership)
    producer: ProducerPort
    reader: StateReaderPort
    results: ResultStorePort
    registry: DetectorRegistry
    write_reports: WriteReports
    close: Callable[[], None] = lambda: None
    #: feature-attribution step (``services/detector/attribution.AttributionStep``); None: off
    attributions: Callable[..., Any] | None = None
    durable: DurableResultsPort | None = None  # None: results in Redis only
