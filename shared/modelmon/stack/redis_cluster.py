"""A local Redis Cluster: three (or more) ``redis-server`` masters in cluster mode on one host.

``modelmon stack up --redis-cluster`` runs one beside the stack's single Redis, and the
integration tests run their own (tests/integration/redis_cluster.py) to prove the fenced
scripts and transactions on real slots. Each node keeps its data (append-only) and its
``nodes.conf`` in its own directory, so a restart on the same ports rejoins the same cluster;
the slots are assigned once, by ``redis-cli --cluster create``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from modelmon.errors import ConfigurationError
from modelmon.stack.config import StackConfig
from modelmon.stack.process import ManagedProcess, ensure_port_free

DEFAULT_PORTS = (7000, 7001, 7002)


class ClusterStartError(RuntimeError):
    """The cluster's nodes did not start or their slots could not be assigned."""


def cluster_url(host: str, ports: Sequence[int]) -> str:
    """``MODELMON_REDIS__URL`` for the cluster (every node: any reachable one will do)."""
    return "redis+cluster://" + ",".join(f"{host}:{p}" for p in ports)


def node_config(host: str, port: int, home: Path) -> str:
    """The ``redis.conf`` of one cluster node."""
    lines = [
        f"bind {host}",
        f"port {port}",
        "protected-mode yes",
        "daemonize no",
        "cluster-enabled yes",
        "cluster-require-full-coverage yes",
        f"cluster-config-file {home / 'nodes.conf'}",
        "cluster-node-timeout 3000",
        f"dir {home}",
        "appendonly yes",
        "appendfsync everysec",
        'save ""',
        f"logfile {home / 'redis-server.log'}",
        f"pidfile {home / 'redis-server.pid'}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class LocalCluster:
    """The nodes of one local cluster, each under ``home/redis-cluster-<port>``.

    ``managed``: the stack's way — each node detached with a pid file (``ManagedProcess``),
    outliving this object; otherwise child processes this object stops (the tests' way).
    """

    home: Path
    ports: tuple[int, ...] = DEFAULT_PORTS
    host: str = "127.0.0.1"
    managed: bool = False
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return cluster_url(self.host, self.ports)

    def node(self, port: int) -> ManagedProcess:
        return ManagedProcess(f"redis-cluster-{port}", self.home)

    def node_home(self, port: int) -> Path:
        return self.node(port).workdir

    def running(self) -> list[int]:
        """Ports whose node runs (started by this object, or by the stack)."""
        if self.managed:
            return [p for p in self.ports if self.node(p).pid() is not None]
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def _launch(self, port: int, argv: list[str]) -> None:
        if self.managed:
            if self.node(port).pid() is None:
                ensure_port_free(self.node(port), self.host, port, "--redis-cluster-ports")
                self.node(port).start(argv)
        elif port not in self.procs or self.procs[port].poll() is not None:
            self.procs[port] = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )

    def write_configs(self) -> dict[int, Path]:
        """Each node's config file (created with its directory)."""
        confs: dict[int, Path] = {}
        for port in self.ports:
            home = self.node_home(port)
            home.mkdir(parents=True, exist_ok=True)
            confs[port] = home / "redis.conf"
            confs[port].write_text(node_config(self.host, port, home))
        return confs

    def start(self, timeout: float = 60.0) -> LocalCluster:
        """Start every node not running, assign the slots if nobody has, wait for ``ok``."""
        server = _binary("redis-server")
        for port, conf in self.write_configs().items():
            self._launch(port, [server, str(conf)])
        for port in self.ports:
            _wait(partial(self.answers, port), timeout, f"cluster node {self.host}:{port}")
        if not self.slots_assigned():
            self.create()
        _wait(self.healthy, timeout, "cluster_state:ok on every node")
        return self

    def create(self) -> None:
        """``redis-cli --cluster create``: the slots spread evenly over the masters."""
        nodes = [f"{self.host}:{p}" for p in self.ports]
        done = subprocess.run(
            [_binary("redis-cli"), "--cluster", "create", *nodes,
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            output = done.stdout + done.stderr
            raise ClusterStartError(f"redis-cli --cluster create failed:\n{output}")

    def _info(self, port: int, *command: str) -> str | None:
        done = subprocess.run(
            [_binary("redis-cli"), "-h", self.host, "-p", str(port), *command],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        return done.stdout if done.returncode == 0 else None

    def answers(self, port: int) -> bool:
        proc = self.procs.get(port)
        if proc is not None and proc.poll() is not None:
            log = self.node_home(port) / "redis-server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            raise ClusterStartError(f"redis-server on port {port} exited:\n{tail}")
        return (self._info(port, "PING") or "").strip() == "PONG"

    def slots_assigned(self) -> bool:
        out = self._info(self.ports[0], "CLUSTER", "INFO") or ""
        return "cluster_slots_assigned:16384" in out

    def healthy(self) -> bool:
        """Every node reports ``cluster_state:ok`` and the full slot range assigned."""
        for port in self.ports:
            out = self._info(port, "CLUSTER", "INFO") or ""
            if "cluster_state:ok" not in out or "cluster_slots_assigned:16384" not in out:
                return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the nodes this object (or, ``managed``, the stack) started: SIGTERM, then
        SIGKILL; never anything else."""
        if self.managed:
            for port in self.ports:
                self.node(port).stop(grace=timeout)
            return
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        self.procs.clear()

    def wipe(self) -> None:
        """Delete every node's data (the nodes must be stopped)."""
        shutil.rmtree(self.home, ignore_errors=True)


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ClusterStartError(f"{name} is not on PATH: install it (apt-get install redis-server)")
    return found


def _wait(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise ClusterStartError(f"timed out after {timeout:.0f}s waiting for {what}")


# -- the stack's cluster (``modelmon stack up --redis-cluster``) ------------------------------
NAME = "redis-cluster"


def of_stack(cfg: StackConfig) -> LocalCluster:
    ports = tuple(cfg.redis_cluster_ports)
    if len(ports) < 3 or len(set(ports)) != len(ports):
        raise ConfigurationError(
            f"MODELMON_STACK_REDIS_CLUSTER_PORTS needs three or more distinct ports, got {ports}"
        )
    return LocalCluster(cfg.state(), ports, cfg.host, managed=True)


def stack_up(cfg: StackConfig, report: Callable[[str], None]) -> str:
    """Start the stack's cluster (idempotent); returns its URL."""
    cluster = of_stack(cfg)
    try:
        cluster.start(cfg.start_timeout)
    except ClusterStartError as exc:
        raise ConfigurationError(f"the local Redis Cluster did not start: {exc}") from exc
    report(f"{NAME} running: {len(cluster.ports)} masters, {cluster.url}")
    return cluster.url


def stack_down(cfg: StackConfig, report: Callable[[str], None]) -> None:
    cluster = of_stack(cfg)
    running = cluster.running()
    cluster.stop()
    report(f"{NAME} {'stopped' if running else 'not running (nothing to stop)'}")
