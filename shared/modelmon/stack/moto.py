"""moto's server: the AWS emulator (S3, CloudWatch, SNS, SQS) on loopback."""

from __future__ import annotations

import os
import urllib.error
import urllib.request

from modelmon.stack import prereqs
from modelmon.stack.config import StackConfig
from modelmon.stack.process import Launch, ManagedProcess, ensure_port_free, port_open, running

NAME = "moto"


def process(cfg: StackConfig) -> ManagedProcess:
    return ManagedProcess(NAME, cfg.state())


def ready(cfg: StackConfig) -> bool:
    """True when moto's own API answers."""
    if not port_open(cfg.host, cfg.moto_port):
        return False
    try:
        # always http (never file: or another scheme): bandit B310 justified
        url = f"http://{cfg.host}:{cfg.moto_port}/moto-api/"
        with urllib.request.urlopen(url, timeout=3) as resp:  # nosec B310
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("moto")


def launch(cfg: StackConfig) -> Launch:
    """Launch moto's server unless ours already runs (``Launch.wait`` waits for it)."""
    proc = process(cfg)
    found = running(proc, lambda: ready(cfg), "moto")
    if found is not None:
        return found
    ensure_port_free(proc, cfg.host, cfg.moto_port, "--moto-port")
    server = prereqs.moto_server()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": cfg.aws_region}  # fmt: skip
    pid = proc.start([server, "-H", cfg.host, "-p", str(cfg.moto_port)], env=env)
    return Launch(proc, pid, lambda: ready(cfg), "moto", "started", fresh=True)
