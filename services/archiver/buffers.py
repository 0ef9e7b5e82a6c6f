"""In-memory capture files in the making, per Kafka partition (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

BucketKey = tuple[str, str, datetime]  # model, variant, hour (UTC)


@dataclass
class FileBuffer:
    """The lines of one capture file: one (model, variant, hour) from one partition."""

    model: str
    variant: str
    first_event: datetime
    first_offset: int
    lines: list[bytes] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)


@dataclass
class PartitionBuffer:
    """What a partition has consumed since its last commit."""

    files: dict[BucketKey, FileBuffer] = field(default_factory=dict)
    next_offset: int | None = None
    opened_at: float | None = None
    size: int = 0

    def add(
        self,
        model: str,
        variant: str,
        event_time: datetime,
        offset: int,
        line: bytes,
        event_id: str,
        now: float,
    ) -> None:
        hour = event_time.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        buf = self.files.get((model, variant, hour))
        if buf is None:
            buf = self.files[(model, variant, hour)] = FileBuffer(
                model, variant, event_time, offset
            )
        buf.lines.append(line)
        buf.event_ids.append(event_id)
        self.size += len(line)
        self.consumed(offset, now)

    def consumed(self, offset: int, now: float) -> None:
        """A message was handled (archived or dead-lettered): commit past it at the next flush."""
        self.next_offset = offset + 1
        if self.opened_at is None:
            self.opened_at = now

    def due(self, now: float, roll_bytes: int, roll_seconds: float) -> bool:
        if self.next_offset is None:
            return False
        return self.size >= roll_bytes or (
            self.opened_at is not None and now - self.opened_at >= roll_seconds
        )

    def reset(self) -> None:
        self.files.clear()
        self.next_offset = None
        self.opened_at = None
        self.size = 0
