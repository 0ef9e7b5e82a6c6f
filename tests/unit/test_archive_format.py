"""Archive layout (SageMaker's key pattern), file codec (gzip, AES-GCM), local store and reader."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from modelmon.archive.codec import (
    decrypt,
    encode_lines,
    encrypt,
    iter_lines,
    load_key,
    pack,
    unpack,
)
from modelmon.archive.layout import file_uuid, object_key, parse_key
from modelmon.archive.reader import ArchiveQuery, read_events
from modelmon.archive.store import LocalStore
from modelmon.capture.sagemaker import to_sagemaker_record
from modelmon.cli import cli
from modelmon.errors import ConfigurationError, CorruptBlobError
from modelmon.events import CaptureEvent

KEY = bytes(range(32))


def test_object_key_follows_sagemakers_layout_and_parses_back() -> None:
    t = datetime(2022, 4, 18, 0, 20, 48, 871000, tzinfo=UTC)
    fid = file_uuid("modelmon.capture.v1", 3, 1187)
    assert (
        fid
        == file_uuid("modelmon.capture.v1", 3, 1187)
        != file_uuid("modelmon.capture.v1", 3, 1188)
    )
    key = object_key("datacapture", "DEMO-xgb", "AllTraffic", t, fid)
    assert key == f"datacapture/DEMO-xgb/AllTraffic/2022/04/18/00/20-48-871-{fid}.jsonl"
    parsed = parse_key(key)
    assert parsed is not None and (parsed.model, parsed.variant) == ("DEMO-xgb", "AllTraffic")
    assert parsed.hour == datetime(2022, 4, 18, 0, tzinfo=UTC)
    real = (
        "DEMO-xgb-churn/AllTraffic/2022/04/18/00/"
        "20-48-871-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl"
    )
    assert parse_key(real) is not None and parse_key("x/y.jsonl") is None
    assert object_key("", "m", "v", t, fid, gzip=True, encrypted=True).endswith(".jsonl.gz.enc")


def test_codec_gzip_and_aes_gcm_round_trip_and_tampering_is_detected() -> None:
    body = encode_lines([{"a": 1}, {"b": 2}])
    blob = pack(body, gzip=True, key=KEY)
    assert blob.startswith(b"MMAG\x01")
    assert unpack(blob, gzip=True, encrypted=True, key=KEY) == body
    assert list(iter_lines(body)) == [{"a": 1}, {"b": 2}]
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(CorruptBlobError, match="authentication"):
        unpack(tampered, gzip=True, encrypted=True, key=KEY)
    with pytest.raises(CorruptBlobError, match="bad header"):
        decrypt(b"plain text", KEY)
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY"):
        unpack(blob, gzip=True, encrypted=True, key=None)
    assert decrypt(encrypt(b"x", KEY), KEY) == b"x"
    assert load_key(base64.b64encode(KEY).decode()) == KEY
    with pytest.raises(ConfigurationError, match="32 bytes"):
        load_key(base64.b64encode(b"short").decode())


def _archive(root: Path, events: list[CaptureEvent]) -> None:
    store = LocalStore(root)
    for i, e in enumerate(events):
        key = object_key("", e.model_id, e.variant, e.event_time, file_uuid("t", 0, i))
        store.put(key, encode_lines([to_sagemaker_record(e)]))


def test_reader_filters_by_time_and_inference_id_and_the_cli_exports(tmp_path: Path) -> None:
    events = [
        CaptureEvent(
            model_id="m",
            event_time=datetime(2026, 1, 1, h, 30, tzinfo=UTC),
            inference_id=f"i{h}",
            inputs={"x": h, "s": "a" if h % 2 else "b"},
            source="sdk",
        )
        for h in range(5)
    ]
    _archive(tmp_path, events)
    store = LocalStore(tmp_path)
    q = ArchiveQuery(
        "m",
        start=datetime(2026, 1, 1, 1, 0, tzinfo=UTC),
        end=datetime(2026, 1, 1, 3, 30, tzinfo=UTC),
    )
    assert [e.inference_id for e in read_events(store, "", q)] == ["i1", "i2"]
    assert [e for e in read_events(store, "", ArchiveQuery("m", inference_id="i4"))] == [events[4]]
    runner = CliRunner()
    res = runner.invoke(cli, ["capture", "read", "--model", "m", "--source", str(tmp_path),
                              "--start", "2026-01-01T02:00:00Z"])  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [x["inference_id"] for x in lines] == ["i2", "i3", "i4"]
    out = tmp_path / "out.parquet"
    res = runner.invoke(cli, ["capture", "read", "--model", "m", "--source", str(tmp_path),
                              "--format", "parquet", "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pq.read_table(out).to_pydict()
    assert table["input.x"] == [0, 1, 2, 3, 4] and table["inference_id"][0] == "i0"
    res = runner.invoke(cli, ["capture", "read", "--model", "m", "--source", str(tmp_path),
                              "--format", "sagemaker", "--inference-id", "i1"])  # fmt: skip
    assert res.exit_code == 0
    (line,) = res.stdout.splitlines()
    assert json.loads(line) == to_sagemaker_record(events[1])
