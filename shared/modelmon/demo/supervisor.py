"""Start the demo's processes, watch them, and stop exactly those (by pid, in reverse order).

Each child gets its own session (so a Ctrl-C in the terminal reaches the demo, which then
stops the children in order) and writes stdout and stderr to ``<run dir>/logs/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelmon.errors import ModelmonError


class ServiceFailedError(ModelmonError):
    """A child process exited or never became ready."""


@dataclass
class Child:
    """One process the demo started."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Owns the children of one demo run."""

    def __init__(self, log_dir: Path, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.env = env
        self.children: list[Child] = []
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        """Start ``argv`` with the shared environment plus ``env``."""
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as handle:
            process = subprocess.Popen(
                argv,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**self.env, **(env or {})},
                start_new_session=True,
            )
        child = Child(name, argv, process, log)
        self.children.append(child)
        return child

    def wait_http(self, child: Child, url: str, timeout: float = 90.0) -> None:
        """Wait until ``url`` answers 2xx; fail early if the child exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.running:
                raise ServiceFailedError(
                    f"{child.name} exited with {child.process.returncode}; "
                    f"last lines of {child.log}:\n{child.tail()}"
                )
            try:
                # the demo's own loopback probe, checked to be http(s) (bandit B310 justified)
                with urllib.request.urlopen(_http(url), timeout=2) as resp:  # nosec B310
                    if 200 <= resp.status < 300:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise ServiceFailedError(f"{child.name} not ready at {url} after {timeout:.0f}s")

    def exited(self) -> list[Child]:
        """Children that stopped on their own."""
        return [c for c in self.children if not c.running]

    def stop_all(self, grace: float = 15.0, report: Callable[[str], None] = print) -> None:
        """SIGTERM each child (last started first), then SIGKILL what is left after ``grace``."""
        for child in reversed(self.children):
            if child.running:
                _signal(child, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                report(f"  {child.name} did not stop within {grace:.0f}s: killing pid {child.pid}")
                _signal(child, signal.SIGKILL)
                child.process.wait(5)
            report(f"  stopped {child.name:<14} (pid {child.pid}, exit {child.process.returncode})")


def _signal(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.process.pid, sig)


def _http(url: str) -> str:
    """``url`` if it is http(s): the probes never open file:// or other schemes."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url
