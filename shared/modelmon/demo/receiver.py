"""A webhook receiver on loopback: where the demo's alerting route delivers notifications.

The alerting service POSTs one JSON body per state change (``format: json``: the alert's
fields plus ``headline`` and ``resolved``). The receiver keeps them, appends each to a JSON
Lines file in the run directory and hands it to a callback that prints it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class WebhookReceiver:
    """``POST /alerts`` on ``127.0.0.1:<port>``, in a daemon thread."""

    def __init__(self, record: Path, on_alert: Callable[[dict[str, Any]], None]) -> None:
        self.record = record
        self.on_alert = on_alert
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self.send_response(400)
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                if isinstance(body, dict):
                    receiver._accept(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: alerts are printed by the callback."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _accept(self, body: dict[str, Any]) -> None:
        body = {**body, "received_at": time.time()}
        with self._lock:
            self.received.append(body)
            with self.record.open("a") as handle:
                handle.write(json.dumps(body) + "\n")
        self.on_alert(body)
