"""The explainer's run loop: a step at a time until stopped; an outage backs off, never exits."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

from modelmon.errors import TransientError
from modelmon.retry import Backoff, retry_transient
from modelmon.service import Health, StopFlag

from .loop import ExplainerLoop

log = logging.getLogger(__name__)


class ExplainerService:
    """Runs ``ExplainerLoop.step``; not ready while a dependency is down."""

    def __init__(
        self, loop: ExplainerLoop, stop: StopFlag, health: Health, batch_size: int,
        on_stop: Callable[[], None] = lambda: None, rand: Callable[[], float] = random.random,
    ) -> None:  # fmt: skip
        self.loop, self.stop, self.health, self.batch_size = loop, stop, health, batch_size
        self._on_stop, self._backoff, self._rand = on_stop, Backoff(rand), rand

    def run(self) -> None:
        try:
            retry_transient("start the explainer", self.loop.start, wait=self.stop.wait,
                            rand=self._rand, blocked=self._blocked)  # fmt: skip
        except TransientError:  # raised only once stopping: Kafka never came back
            self.loop.close()
            return
        self.health.set_ready(True, "consuming")
        try:
            while not self.stop.is_set():
                self.step()
        finally:
            self.health.set_ready(False, "stopping")
            self.loop.close()
            self._on_stop()

    def _blocked(self, reason: str | None) -> None:
        self.health.set_ready(reason is None, reason or "consuming")

    def step(self) -> None:
        """One batch; a TransientError (already rewound) waits the one backoff."""
        try:
            self.loop.step(self.batch_size, 0.2)
        except TransientError as exc:
            delay = self._backoff.failed()
            self.health.set_ready(False, f"cannot explain: {exc}")
            log.warning("explainer blocked (attempt %d), retrying in %.1fs: %s",
                        self._backoff.failures, delay, exc)  # fmt: skip
            self.stop.wait(delay)
            return
        if self._backoff.succeeded():
            self.health.set_ready(True, "consuming")
