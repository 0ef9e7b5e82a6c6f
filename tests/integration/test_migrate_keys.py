"""``modelmon migrate-keys``: keys stored before hash tags are renamed in place, values and TTLs
kept, and modelmon reads them under their new names."""

from __future__ import annotations

from typing import Any

import orjson
from click.testing import CliRunner

from modelmon.cli import cli
from modelmon.config import ModelConfig
from modelmon.keys import Keys, WindowRef
from modelmon.registry import Registry
from modelmon.streaming.results import ResultStore


def test_untagged_keys_are_renamed_and_read_back(redis_client: Any, redis_prefix: str) -> None:
    p, ref = redis_prefix, WindowRef("churn", 10_000, 20_000)
    config = ModelConfig(model_id="churn")
    old = {
        f"{p}:models": None,
        f"{p}:model:churn:config": None,
        f"{p}:registry:version": b"3",
        f"{p}:done:churn:10000:20000": b"123",
        f"{p}:partial:churn:10000:20000:capture:4": b"blob",
    }
    redis_client.sadd(f"{p}:models", "churn")
    stored = {"config": config.model_dump_json(), "version": 1, "changed_at": 5}
    redis_client.hset(f"{p}:model:churn:config", mapping=stored)
    for key, value in old.items():
        if value is not None:
            redis_client.set(key, value, ex=3600)
    plan = {"event_id": "e1", "model_id": "churn", "deliveries": []}
    redis_client.hset(f"{p}:alerting:plan:e1", "plan", orjson.dumps(plan))
    redis_client.set(f"{p}:{{already}}:tagged", b"x")
    env = {"MODELMON_REDIS__KEY_PREFIX": p}

    dry = CliRunner().invoke(cli, ["migrate-keys", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would rename 6 keys" in dry.output and redis_client.exists(f"{p}:models")
    done = CliRunner().invoke(cli, ["migrate-keys"], env=env)
    assert done.exit_code == 0, done.output
    assert "renamed 6 keys; 0 kept" in done.output

    keys = Keys(p)
    assert not any(redis_client.exists(k) for k in old)
    registry = Registry(redis_client, keys)
    assert registry.model_ids() == ["churn"] and registry.version() == 3
    assert registry.all()["churn"].config == config
    assert ResultStore(redis_client, keys, "t").done([ref]) == {ref}
    assert 0 < redis_client.ttl(keys.done(ref)) <= 3600  # TTL kept
    assert redis_client.get(keys.partial("capture", 4, ref)) == b"blob"
    assert redis_client.hexists(keys.alert_plan("churn", "e1"), "plan")
    again = CliRunner().invoke(cli, ["migrate-keys"], env=env)
    assert "renamed 0 keys" in again.output  # idempotent
