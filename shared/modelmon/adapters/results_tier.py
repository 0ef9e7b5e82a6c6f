"""The durable results tier for a deployment's settings (issue 23): where every window result
is written as Parquet (``results.durable``, else the detector's report output) and read back
by the API once Redis no longer holds it. See ``modelmon.streaming.tiers``."""

from __future__ import annotations

from typing import cast

from modelmon.settings import Settings
from modelmon.streaming.tiers import DurableResults, DurableStore


def durable_results(settings: Settings) -> DurableResults | None:
    """The durable tier, or None when neither ``results.durable`` nor ``detector.out`` is set."""
    from modelmon.archive.store import open_store

    where = settings.results.durable or settings.detector.out
    if not where:
        return None
    store, prefix = open_store(settings, where)
    return DurableResults(cast(DurableStore, store), prefix)
