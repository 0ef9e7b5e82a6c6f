"""Object keys in SageMaker's data-capture layout (pure).

``{prefix}/{model}/{variant}/yyyy/mm/dd/hh/{MM}-{SS}-{mmm}-{uuid}.jsonl`` where the hour folder
is the (UTC) hour of the inference and MM-SS-mmm the time of the file's first event.
The uuid is derived from (topic, partition, first offset): a file rewritten after a crash gets
the same key and replaces the earlier copy instead of duplicating it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from modelmon.names import check_name

_NAMESPACE = uuid.UUID("6f1c3f7e-4a55-4b8e-9a53-3c1d2b7e0c11")
_KEY = re.compile(
    r"(?:^|/)(?P<model>[^/]+)/(?P<variant>[^/]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<d>\d{2})/"
    r"(?P<h>\d{2})/(?P<name>\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl(?:\.gz)?(?:\.enc)?)$"
)


def file_uuid(topic: str, partition: int, first_offset: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{topic}/{partition}/{first_offset}"))


def suffix(gzip: bool, encrypted: bool) -> str:
    return ".jsonl" + (".gz" if gzip else "") + (".enc" if encrypted else "")


def hour_prefix(prefix: str, model: str, variant: str, hour: datetime) -> str:
    hour = hour.astimezone(UTC)
    parts = [
        prefix.strip("/"),
        check_name(model, "model id"),
        check_name(variant, "variant"),
        hour.strftime("%Y/%m/%d/%H"),
    ]
    return "/".join(p for p in parts if p)


def object_key(
    prefix: str,
    model: str,
    variant: str,
    first_event: datetime,
    file_id: str,
    *,
    gzip: bool = False,
    encrypted: bool = False,
) -> str:
    """The key of a capture file whose first event happened at ``first_event``."""
    t = first_event.astimezone(UTC)
    name = f"{t:%M-%S}-{t.microsecond // 1000:03d}-{file_id}{suffix(gzip, encrypted)}"
    return f"{hour_prefix(prefix, model, variant, t)}/{name}"


@dataclass(frozen=True)
class ParsedKey:
    model: str
    variant: str
    hour: datetime
    gzip: bool
    encrypted: bool


def parse_key(key: str) -> ParsedKey | None:
    """Model, variant and hour of a capture file key; None if it is not one."""
    m = _KEY.search(key)
    if m is None:
        return None
    hour = datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["h"]), tzinfo=UTC)
    name = m["name"]
    return ParsedKey(m["model"], m["variant"], hour, ".gz" in name, name.endswith(".enc"))
