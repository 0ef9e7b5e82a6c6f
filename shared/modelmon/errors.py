"""The exception tree. Branches say what the caller does about an error.

- PermanentError: the input is bad and will stay bad. Dead-letter it and move on.
- TransientError: a dependency is down or slow. Retry with backoff; do not commit.
- ConfigurationError: the process cannot run as configured. Fail at start-up with a
  message that says how to fix it.
"""

from __future__ import annotations


class ModelmonError(Exception):
    """Root of every error modelmon raises on purpose."""


class PermanentError(ModelmonError):
    """Bad input that no retry will fix; dead-letter it with this message as the reason."""


class TransientError(ModelmonError):
    """A dependency failed in a way that may pass; retry, and do not commit offsets."""


class ConfigurationError(ModelmonError):
    """Settings, files or prerequisites are wrong; the message says how to fix them."""


class InvalidEventError(PermanentError):
    """An event failed to decode or validate against its schema."""


class UnknownModelError(PermanentError):
    """An event names a model that is not registered (when registration is enforced)."""


class CorruptBlobError(PermanentError):
    """A serialized profile or sketch has a bad header, version or body."""


class BaselineError(ConfigurationError):
    """A baseline is missing, unreadable or inconsistent."""


class DependencyUnavailableError(TransientError):
    """Kafka, Redis or an AWS service did not answer."""


class FencedWriteError(ModelmonError):
    """A state write was refused because another owner moved the partition's offset.

    The writer is a zombie (it lost the partition in a rebalance) or is replaying: it must
    drop its in-memory state for that partition and re-seek to the stored offset.
    """
