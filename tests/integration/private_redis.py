"""A private ``redis-server`` a test may kill and restart without touching the shared stack.

It listens on a free 127.0.0.1 port and keeps its data (AOF and/or RDB) in its own directory,
so a restart on the same port and directory recovers whatever Redis had persisted.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from conftest import wait_until


def free_port() -> int:
    """A TCP port nothing listens on at the moment (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    """The ``redis-server`` on PATH; fails the test (never skips) when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH: install it (apt-get install redis-server)")
    return binary


@dataclass
class PrivateRedis:
    """One redis-server process; ``appendonly`` False keeps only what an explicit SAVE wrote."""

    data_dir: Path
    appendonly: bool = True
    port: int = field(default_factory=free_port)
    binary: str = field(default_factory=redis_server_binary)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=2)

    def start(self) -> PrivateRedis:
        """Start (or restart) on the same port and data directory; returns once it answers."""
        assert not self.running(), "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "redis-server.log").open("ab")
        self.proc = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir), "--appendonly", "yes" if self.appendonly else "no",
                "--save", "", "--daemonize", "no", "--protected-mode", "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(self._answers, 30, f"private redis-server on port {self.port}")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            pytest.fail(f"redis-server exited with {self.proc.returncode}:\n{self.logs()}")
        client = self.client()
        try:
            return bool(client.ping())
        except redis.RedisError:  # refused, or still loading its data
            return False
        finally:
            client.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: whatever was not persisted is gone."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def logs(self, tail: int = 3000) -> str:
        path = self.data_dir / "redis-server.log"
        return path.read_text(errors="replace")[-tail:] if path.exists() else ""


class ReplyDroppingProxy:
    """A TCP proxy in front of Redis that can lose one reply: once ``arm()``ed, the next
    connection that sends an EVALSHA has the command delivered to Redis (which runs it) and
    is then closed before the reply comes back, as when Redis or the network dies mid-call.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.dropped = threading.Event()
        self._armed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, name="redis-proxy", daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arm(self) -> None:
        self.dropped.clear()
        self._armed.set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:  # closed
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            swallow = threading.Event()
            threading.Thread(
                target=self._requests, args=(client, upstream, swallow), daemon=True
            ).start()
            threading.Thread(
                target=self._replies, args=(upstream, client, swallow), daemon=True
            ).start()

    def _requests(self, src: socket.socket, dst: socket.socket, swallow: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if self._armed.is_set() and b"EVALSHA" in data.upper():
                    self._armed.clear()
                    swallow.set()  # before Redis can answer
                dst.sendall(data)
        _close(src, dst)

    def _replies(self, src: socket.socket, dst: socket.socket, swallow: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if swallow.is_set():  # Redis ran the script; its answer is lost
                    self.dropped.set()
                    break
                dst.sendall(data)
        _close(src, dst)


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
