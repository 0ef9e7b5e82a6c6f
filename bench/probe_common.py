"""Helpers of the proxy probes: a model server in a thread and a proxy subprocess."""

from __future__ import annotations

import asyncio
import http.client
import socket
import subprocess
import threading
import time
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def model_server(auto_decompress: bool = True) -> int:
    """A server answering every POST /invocations with a prediction; its port."""

    async def invocations(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"predictions": [{"predicted_label": 1}]})

    app = web.Application()
    app.router.add_post("/invocations", invocations)
    port = free_port()
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        runner = web.AppRunner(app, auto_decompress=auto_decompress)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    loop.run_until_complete(serve())
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return port


def start_proxy(upstream: int, model: str) -> tuple[subprocess.Popen[bytes], int, Path]:
    """``modelmon run capture-proxy`` in front of ``upstream``; (process, port, log)."""
    port, admin = free_port(), free_port()
    log = Path(f"/tmp/probe-proxy-{port}.log")
    argv = [str(ROOT / ".venv/bin/modelmon"), "run", "capture-proxy", "--upstream",
            f"http://127.0.0.1:{upstream}", "--model", model, "--port", str(port),
            "--admin-port", str(admin)]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", admin, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc, port, log
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the proxy did not start: {log.read_text()[-2000:]}")


def status_of(pid: int, field: str) -> int:
    """A /proc/<pid>/status field in MiB (VmRSS:, VmHWM:)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) // 1024
    raise KeyError(field)
