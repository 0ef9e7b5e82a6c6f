"""Names that become paths or keys: one pattern in schemas, config, readers and writers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from modelmon.archive.layout import object_key
from modelmon.archive.reader import ArchiveQuery
from modelmon.archive.store import LocalStore
from modelmon.config import ModelConfig
from modelmon.events import CaptureEvent
from modelmon.names import NAME_PATTERN, UnsafeNameError, check_name, contained, is_name
from modelmon.streaming.decode import _DECODER

T = datetime(2026, 1, 1, tzinfo=UTC)
_SEGMENTS = st.sampled_from(
    ["..", ".", "/", "\\", "\x00", "\n", "é", "ｍ", "a", "B7", "_", "-", " "]
)
NAMES = st.lists(_SEGMENTS, min_size=1, max_size=6).map("".join) | st.text(max_size=20)


@settings(max_examples=300, deadline=None)
@given(name=NAMES)
def test_every_name_is_checked_the_same_way_in_models_readers_and_writers(name: str) -> None:
    ok = is_name(name)
    assert ok == bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", name))
    if ok:
        assert check_name(name) == name
        assert not any(c in name for c in "/\\\x00\n") and name not in (".", "..")
        assert not name.startswith(".")
        return
    with pytest.raises(UnsafeNameError):
        check_name(name)
    with pytest.raises(ValidationError):
        CaptureEvent(model_id="m", variant=name, event_time=T, inputs={})
    with pytest.raises(ValidationError):
        CaptureEvent(model_id=name, event_time=T, inputs={})
    with pytest.raises(ValidationError):
        ModelConfig(model_id="m", schedule_name=name)
    with pytest.raises(ValidationError):
        ModelConfig.model_validate(
            {"model_id": "m", "alerts": {"cloudwatch": {"endpoint_name": name}}}
        )
    with pytest.raises(UnsafeNameError):
        object_key("prefix", "m", name, T, "id")
    with pytest.raises(UnsafeNameError):
        ArchiveQuery(model=name)
    doc = msgspec.json.encode(
        {"model_id": name, "event_time": "2026-01-01T00:00:00Z", "inputs": {}}
    )
    with pytest.raises(msgspec.ValidationError):
        _DECODER.decode(doc)


def test_a_trailing_newline_does_not_pass_the_python_check() -> None:
    assert re.match(NAME_PATTERN, "m\n")  # why the Python-side pattern ends with \Z
    assert not is_name("m\n")


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(_SEGMENTS, min_size=1, max_size=6))
def test_writers_keep_resolved_paths_under_their_root(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    root = tmp_path_factory.mktemp("root")
    key = "/".join(parts) + "/file.jsonl"
    store = LocalStore(root / "store")
    nul = "\x00" in key
    inside = not nul and (root / "store" / key).resolve().is_relative_to((root / "store").resolve())
    if nul or not inside:
        with pytest.raises(UnsafeNameError):
            store.put(key, b"x")
        with pytest.raises(UnsafeNameError):
            contained(root / "store", key)
    else:
        store.put(key, b"x")
        assert store.get(key) == b"x"
    assert not any(p.is_file() for p in root.iterdir())  # nothing escaped to the parent


def test_the_reported_escape_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="variant"):
        CaptureEvent(model_id="m", variant="../../../ESCAPED", event_time=T, inputs={})
    with pytest.raises(UnsafeNameError):
        LocalStore(tmp_path / "a").put("m/../../ESCAPED/x", b"x")
    with pytest.raises(ValidationError, match="schedule_name"):
        ModelConfig(model_id="m", schedule_name="../../ESCAPED")
