"""``--admin-host`` reaches the admin server: a real ``modelmon run detector`` on 127.0.0.2.

127.0.0.2 is loopback too (127.0.0.0/8), but a different address from the default 127.0.0.1,
so a server that ignored the option would be found on 127.0.0.1 and not on 127.0.0.2.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import wait_until

HOST = "127.0.0.2"


def _status(host: str, port: int, path: str) -> int:
    """HTTP status of GET ``path``, or 0 when nothing listens there."""
    try:
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", path)
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return 0


def test_detector_admin_server_binds_the_admin_host_from_the_environment(
    new_topic: Callable[..., str], redis_prefix: str, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "MODELMON_REDIS__KEY_PREFIX": redis_prefix,
        "MODELMON_DETECTOR__TOPIC": new_topic(),
        "MODELMON_ADMIN__HOST": HOST,
        "MODELMON_ADMIN__PORT": str(port),
    }
    log = tmp_path / "detector.log"
    modelmon = Path(sys.executable).with_name("modelmon")
    with log.open("wb") as out:
        proc = subprocess.Popen([str(modelmon), "run", "detector"], env=env, stdout=out, stderr=out)
    try:
        wait_until(lambda: _status(HOST, port, "/healthz") == 200, 60, "detector /healthz")
        assert _status("127.0.0.1", port, "/healthz") == 0
        assert _status(HOST, port, "/metrics") == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    assert f"admin endpoints on {HOST}:{port}" in log.read_text()
