"""The local stack: Apache Kafka (KRaft), Redis and moto's AWS emulator on loopback.

``modelmon stack up | down | status | env`` drives it. Every process it starts has a pid
file, a log and a working directory under one state directory, so ``down`` stops only what
``up`` started. Nothing here is used by services: they reach Kafka, Redis and AWS through
``modelmon.settings`` and the adapters, whoever runs those.
"""

from modelmon.stack.config import StackConfig
from modelmon.stack.manager import ServiceStatus, StackStatus, down, env_vars, status, up

__all__ = ["ServiceStatus", "StackConfig", "StackStatus", "down", "env_vars", "status", "up"]
