"""Prerequisites the stack needs on the machine, each failing fast with what to install."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from modelmon.errors import ConfigurationError

JAVA_MIN = 17


def java() -> str:
    """Path of a Java 17+ ``java`` (``$JAVA_HOME/bin/java`` first, then PATH)."""
    home = os.environ.get("JAVA_HOME")
    candidate = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not candidate or not Path(candidate).exists():
        raise ConfigurationError(
            f"Java {JAVA_MIN} or newer is needed to run Apache Kafka 4, and no `java` was found. "
            "Install it (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`) or set "
            "JAVA_HOME."
        )
    out = subprocess.run(
        [candidate, "-version"], capture_output=True, text=True, check=False
    ).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):  # "1.8.0_x" style
        major = int(match.group(2))
    if major < JAVA_MIN:
        raise ConfigurationError(
            f"Apache Kafka 4 needs Java {JAVA_MIN}+, but {candidate} is {out.splitlines()[:1]}. "
            "Install a newer JDK (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`) "
            "and put it first on PATH or in JAVA_HOME."
        )
    return candidate


def maven() -> str:
    """Path of ``mvn``, which fetches the Kafka jars from Maven Central."""
    found = shutil.which("mvn")
    if not found:
        raise ConfigurationError(
            "Maven (`mvn`) is needed once to fetch the Apache Kafka jars from Maven Central. "
            "Install it (Debian/Ubuntu: `apt-get install -y maven`)."
        )
    return found


def moto_server() -> str:
    """The ``moto_server`` script installed beside this Python (moto[server])."""
    beside = Path(sys.executable).parent / "moto_server"
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if not found:
        raise ConfigurationError(
            "moto's server (the AWS emulator) is not installed in this environment. Run "
            "`make venv`, or `pip install 'moto[server]'` into the same virtualenv as modelmon."
        )
    return found


def redis_server() -> tuple[str, bool]:
    """Path of ``redis-server``, installing Debian's package if it is missing.

    Returns the path and whether this call installed it (the package may then have started
    a system Redis of its own, which the caller stops).
    """
    found = shutil.which("redis-server")
    if found:
        return found, False
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ConfigurationError(
            "`redis-server` is not installed. Install it (Debian/Ubuntu, as root: "
            "`apt-get update && apt-get install -y redis-server`; macOS: `brew install redis`)."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "redis-server"]):
        print(f"modelmon stack: {' '.join(argv)}", file=sys.stderr, flush=True)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ConfigurationError(
                f"`{' '.join(argv)}` failed (exit {done.returncode}); install redis-server "
                f"by hand and retry.\n{done.stderr[-2000:]}"
            )
    found = shutil.which("redis-server")
    if not found:
        raise ConfigurationError("apt-get installed redis-server but it is not on PATH.")
    return found, True
