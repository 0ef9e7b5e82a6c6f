"""Probe (not part of make bench): 300 connections trickle a body into the capture proxy.

Each sends a request head announcing 1000 bytes, then 1 byte every 5 s; prints the proxy's
open file descriptors before, during and after its body timeout (30 s), how many connections
got a 408 or were closed, and the tracebacks in its log. Run:
``.venv/bin/python bench/probe_proxy_slow_bodies.py`` (needs the stack).
"""

from __future__ import annotations

import contextlib
import os
import socket
import time

from probe_common import model_server, start_proxy

HEAD = b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"


def main(connections: int = 300, seconds: float = 36.0) -> None:
    proc, port, log = start_proxy(model_server(), "slow")

    def fds() -> int:
        return len(os.listdir(f"/proc/{proc.pid}/fd"))

    print("fds idle", fds())
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for s in socks:
        s.sendall(HEAD)
    time.sleep(1)
    print(f"fds with {connections} slow bodies", fds())
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for s in socks:
            with contextlib.suppress(OSError):
                s.send(b"a")
        time.sleep(5)
    print(f"fds after {seconds:.0f} s", fds())
    done = 0
    for s in socks:
        s.settimeout(0.5)
        try:
            data = s.recv(100)
            done += data.startswith(b"HTTP/1.1 408") or data == b""
        except OSError:
            done += 1
    print(f"connections answered 408 or closed: {done} of {connections}")
    proc.terminate()
    proc.wait(10)
    print("tracebacks in the proxy log", log.read_text().count("Traceback"))


if __name__ == "__main__":
    main()
