"""``modelmon stack up --redis-cluster``'s cluster: started, used, stopped by pid, restarted."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from modelmon.adapters.redis import make_redis
from modelmon.cli import cli
from modelmon.settings import RedisSettings
from modelmon.stack import StackConfig, env_vars, status
from modelmon.stack import redis_cluster as cluster

from .redis_cluster import cluster_ports


def test_the_stack_cluster_starts_serves_stops_and_rejoins(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path, redis_cluster_ports=list(cluster_ports()))
    lines: list[str] = []
    url = cluster.stack_up(cfg, lines.append)
    nodes = cluster.of_stack(cfg)
    try:
        exported = env_vars(cfg, redis_cluster=True)["MODELMON_REDIS__URL"]
        assert url == cfg.redis_cluster_url == exported
        assert "3 masters" in lines[-1]
        client = make_redis(RedisSettings(url=url))
        client.set("k", b"v")
        assert nodes.running() == list(cfg.redis_cluster_ports)
        assert cluster.stack_up(cfg, lines.append) == url  # idempotent: nothing restarted
        shown = {s.name: s for s in status(cfg).services}
        assert (shown["redis-cluster"].state, shown["redis-cluster"].endpoint) == ("running", url)
        env = {"MODELMON_STACK_STATE_DIR": str(tmp_path),
               "MODELMON_STACK_REDIS_CLUSTER_PORTS": str(cfg.redis_cluster_ports)}  # fmt: skip
        printed = CliRunner().invoke(cli, ["stack", "env", "--redis-cluster"], env=env)
        assert f"export MODELMON_REDIS__URL={url}" in printed.output
        cluster.stack_down(cfg, lines.append)
        assert nodes.running() == [] and lines[-1] == "redis-cluster stopped"
        assert "redis-cluster" not in {s.name for s in status(cfg).services}
        cluster.stack_up(cfg, lines.append)  # the same slots and data, no second create
        assert make_redis(RedisSettings(url=url)).get("k") == b"v"
    finally:
        nodes.stop()
    assert all((tmp_path / f"redis-cluster-{p}" / "nodes.conf").is_file() for p in nodes.ports)
