"""Processes the stack starts: pid file, log file and working directory under the state dir.

A pid counts as ours only while that process is alive AND its working directory is the one
we started it in, so a stale pid file whose number was reused by another process is ignored
and ``down`` never signals a stranger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelmon.errors import ConfigurationError


@dataclass(frozen=True)
class ManagedProcess:
    """One long-running stack process (kafka, redis or moto)."""

    name: str
    state_dir: Path

    @property
    def workdir(self) -> Path:
        return self.state_dir / self.name

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "run" / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _alive(pid) and _cwd_of(pid) == self.workdir.resolve():
            return pid
        self.pidfile.unlink(missing_ok=True)
        return None

    def start(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Start ``argv`` detached (own session), output appended to the log; returns its pid."""
        for directory in (self.workdir, self.pidfile.parent, self.logfile.parent):
            directory.mkdir(parents=True, exist_ok=True)
        with self.logfile.open("ab") as log:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            log.write(f"\n=== modelmon stack {stamp}: starting {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(argv),
                cwd=self.workdir,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(f"{proc.pid}\n")
        return proc.pid

    def stop(self, grace: float = 20.0) -> bool:
        """SIGTERM, then SIGKILL after ``grace`` seconds; True if something was stopped."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        if not wait_for(lambda: not _alive(pid), grace):
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda: not _alive(pid), 10.0)
        self.pidfile.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.logfile.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by us) is not alive.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _cwd_of(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except OSError:
        return None


def reap(pid: int) -> None:
    """Collect a child that exited so it does not linger as a zombie (no-op otherwise)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def wait_started(
    proc: ManagedProcess, pid: int, ready: Callable[[], bool], timeout: float, what: str
) -> None:
    """Wait until ``ready()``; fail with the log's tail if the process dies or time runs out."""

    def done() -> bool:
        reap(pid)
        return ready() or not _alive(pid)

    wait_for(done, timeout, interval=0.3)
    if ready():
        return
    died = not _alive(pid)
    if not died:
        proc.stop(grace=5.0)
    reason = "exited" if died else f"did not answer within {timeout:.0f}s"
    raise ConfigurationError(
        f"{what} {reason}. Last lines of {proc.logfile}:\n{proc.log_tail()}\n"
        f"Fix the cause above, then run `modelmon stack up` again."
    )


@dataclass
class Launch:
    """A process ``up`` launched (or found running) and has yet to see answering."""

    proc: ManagedProcess
    pid: int
    ready: Callable[[], bool]
    what: str
    note: str  # what to report once it answers, e.g. "started" or "already running"
    fresh: bool  # launched by this call (so a failed ``up`` stops it again)
    answered: bool = False

    def wait(self, timeout: float) -> str:
        wait_started(self.proc, self.pid, self.ready, timeout, self.what)
        self.answered = True
        return self.note


def running(proc: ManagedProcess, ready: Callable[[], bool], what: str) -> Launch | None:
    """A Launch for our process if it already runs, else None."""
    pid = proc.pid()
    if pid is None:
        return None
    return Launch(proc, pid, ready, what, "already running", fresh=False)


def ensure_port_free(proc: ManagedProcess, host: str, port: int, option: str) -> None:
    """Fail with a fix-it message if a process we did not start holds ``port``."""
    if port_open(host, port):
        raise ConfigurationError(
            f"port {host}:{port} for {proc.name} is taken by a process this stack did not start "
            f"(state dir {proc.state_dir}). Stop that process, or pick another port with "
            f"{option} / MODELMON_STACK_{option.strip('-').upper().replace('-', '_')}; to use an "
            f"existing service instead of the local stack, see docs/local-stack.md."
        )
