"""Detecting that Redis lost its state under running services (pure; issue 19).

Redis holds the registry, the baselines and every partition's offset. If it comes back empty
(a restart without persistence, a failover to an empty replica, a FLUSHALL), a consumer that
carries on would find no stored offsets, replay the capture topic from its start into an empty
registry and dead-letter every event as an unknown model (issue 19 counted 105,000 dead letters
for 90,000 messages, and 63 of 70 windows missing after re-registering). So the registry writes
a *generation* key (a random id, with SET NX) with its first model, and each service remembers
the generation it started on; when the key vanishes or changes, the service stops consuming,
reports not-ready with the reason and sets ``modelmon_<service>_redis_state_lost`` to 1, and
waits for an operator (docs/streaming.md "Redis lost its state": rebuild, then restart).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from modelmon.errors import TransientError

log = logging.getLogger(__name__)

LOST_MESSAGE = (
    "Redis lost modelmon's state (its generation key {was} is now {now}): consumption stopped "
    "so nothing is replayed into an empty registry; restore the registry and baselines "
    "(modelmon rebuild, docs/streaming.md 'Redis lost its state'), then restart this service"
)


class GenerationGuard:
    """Remembers the generation a service started on; ``intact()`` turns False for good once
    it vanishes or changes. A Redis that does not answer says nothing either way."""

    def __init__(self, read: Callable[[], bytes | None]) -> None:
        self._read = read
        self.seen: bytes | None = None
        self.lost: str | None = None  # the reason, once lost

    def intact(self) -> bool:
        if self.lost is not None:
            return False
        try:
            current = self._read()
        except TransientError:
            return True  # Redis down: the retries elsewhere wait for it; not a loss yet
        if self.seen is None:
            self.seen = current
        elif current != self.seen:
            self.lost = LOST_MESSAGE.format(
                was=self.seen.decode(errors="replace"),
                now="gone" if current is None else current.decode(errors="replace"),
            )
            log.error(self.lost)
        return self.lost is None
