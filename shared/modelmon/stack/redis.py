"""Redis for the local stack: our own config, data and pid file, appendonly on."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from modelmon.stack import prereqs
from modelmon.stack.config import StackConfig
from modelmon.stack.process import (
    Launch,
    ManagedProcess,
    ensure_port_free,
    port_open,
    running,
    wait_for,
)

NAME = "redis"
_DEBIAN_PIDFILE = Path("/run/redis/redis-server.pid")


def process(cfg: StackConfig) -> ManagedProcess:
    return ManagedProcess(NAME, cfg.state())


def ready(cfg: StackConfig) -> bool:
    """True when Redis answers PING and has finished loading its append-only file."""
    import redis

    if not port_open(cfg.host, cfg.redis_port):
        return False
    client = redis.Redis(host=cfg.host, port=cfg.redis_port, socket_timeout=2)
    try:
        return bool(client.ping()) and client.info("persistence").get("loading") == 0
    except redis.RedisError:
        return False
    finally:
        client.close()


def version(cfg: StackConfig) -> str | None:
    import redis

    client = redis.Redis(host=cfg.host, port=cfg.redis_port, socket_timeout=2)
    try:
        return str(client.info("server")["redis_version"])
    except redis.RedisError:
        return None
    finally:
        client.close()


def _write_config(cfg: StackConfig) -> Path:
    home = cfg.state() / NAME
    home.mkdir(parents=True, exist_ok=True)
    lines = [
        f"bind {cfg.host}",
        f"port {cfg.redis_port}",
        "protected-mode yes",
        "daemonize no",
        f"pidfile {home / 'redis-server.pid'}",
        f"dir {home}",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        'logfile ""',
        "loglevel notice",
    ]
    conf = home / "redis.conf"
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _stop_debian_autostart(cfg: StackConfig) -> None:
    """Debian's package starts a system Redis on 6379 when installed; stop the one it started."""
    if not port_open(cfg.host, cfg.redis_port):
        return
    if shutil.which("invoke-rc.d"):
        subprocess.run(["invoke-rc.d", "redis-server", "stop"], capture_output=True, check=False)
    if port_open(cfg.host, cfg.redis_port) and _DEBIAN_PIDFILE.is_file():
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(_DEBIAN_PIDFILE.read_text().strip()), signal.SIGTERM)
    wait_for(lambda: not port_open(cfg.host, cfg.redis_port), 10.0)


def launch(cfg: StackConfig) -> Launch:
    """Launch our Redis unless it already runs (``Launch.wait`` waits for it to answer)."""
    proc = process(cfg)
    found = running(proc, lambda: ready(cfg), "Redis")
    if found is not None:
        return found
    server, installed = prereqs.redis_server()
    if installed:
        _stop_debian_autostart(cfg)
    ensure_port_free(proc, cfg.host, cfg.redis_port, "--redis-port")
    conf = _write_config(cfg)
    pid = proc.start([server, str(conf)])
    note = "started (redis-server installed with apt-get)" if installed else "started"
    return Launch(proc, pid, lambda: ready(cfg), "Redis", note, fresh=True)
