"""Probe (not part of make bench): the capture proxy's RSS while gzip bombs pass through it.

Five 306 KB gzip bodies that inflate to 300 MiB each go through ``modelmon run capture-proxy``
(with an ordinary request after each); prints the proxy's RSS before and its peak (VmHWM),
and the slowest request. Run: ``.venv/bin/python bench/probe_proxy_bomb.py`` (needs the stack).
"""

from __future__ import annotations

import http.client
import time
import zlib

from probe_common import model_server, start_proxy, status_of


def main() -> None:
    upstream = model_server(auto_decompress=False)
    proc, port, _ = start_proxy(upstream, "bomb")
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(deflate.compress(b"\0" * (1 << 20)) for _ in range(300)) + deflate.flush()
    print(f"bomb: {len(bomb)} bytes, inflates to 300 MiB")
    print("proxy RSS before (MiB)", status_of(proc.pid, "VmRSS:"))
    slowest = 0.0
    for _ in range(5):
        for body, enc in ((bomb, "gzip"), (b'{"instances":[{"a":1}]}', "identity")):
            started = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            headers = {"Content-Type": "application/json", "Content-Encoding": enc}
            conn.request("POST", "/invocations", body, headers)
            conn.getresponse().read()
            slowest = max(slowest, time.perf_counter() - started)
    time.sleep(1)
    print("proxy peak RSS (VmHWM, MiB)", status_of(proc.pid, "VmHWM:"))
    print(f"slowest request (s) {slowest:.3f}")
    proc.terminate()
    proc.wait(10)


if __name__ == "__main__":
    main()
