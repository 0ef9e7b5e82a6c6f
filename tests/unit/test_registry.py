"""Registry helpers that need no Redis: config parsing and baseline packing."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelmon.errors import BaselineError, ConfigurationError
from modelmon.keys import Keys, WindowRef
from modelmon.registry import pack_baseline, parse_config, read_baseline_dir, unpack_baseline


def test_a_yaml_config_is_validated_into_a_model_config() -> None:
    config = parse_config(
        b"model_id: churn\nwindow: {size_seconds: 60, allowed_lateness_seconds: 5}\n"
        b"features: [{name: age, kind: numeric}]\n"
    )
    assert config.model_id == "churn"
    assert config.window.size_seconds == 60
    assert config.feature("age") is not None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"model_id: [unclosed", "not valid YAML"),
        (b"- a list", "must be a mapping"),
        (b"model_id: 'bad id!'", "model config is invalid"),
        (b"model_id: m\nwindow: {size_seconds: 0}", "size_seconds"),
    ],
)
def test_a_bad_config_says_what_is_wrong(text: bytes, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_config(text)


def test_baseline_files_round_trip_byte_for_byte() -> None:
    files = {"statistics.json": b'{"a": 1}', "profile.bin": bytes(range(256))}
    assert unpack_baseline(pack_baseline(files)) == files
    with pytest.raises(BaselineError, match="no modelmon header"):
        unpack_baseline(b"junk")
    with pytest.raises(BaselineError, match="damaged"):
        unpack_baseline(pack_baseline(files)[:-3])


def test_a_directory_without_a_baseline_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match=r"statistics\.json"):
        read_baseline_dir(tmp_path)
    with pytest.raises(BaselineError, match="not a directory"):
        read_baseline_dir(tmp_path / "missing")


def test_keys_share_the_prefix_and_window_members_round_trip() -> None:
    keys = Keys("pfx")
    ref = WindowRef("m.v1-x", 10_000, -20_000)
    assert WindowRef.from_member(ref.member()) == ref
    assert WindowRef.from_member(ref.member().encode()) == ref
    assert keys.partial("t", 3, ref) == "pfx:agg:{t:3}:partial:m.v1-x:10000:-20000"
    assert keys.partition_state("t", 3) == "pfx:agg:{t:3}:state"
    assert keys.model_config("m") == "pfx:{registry}:model:m:config"
