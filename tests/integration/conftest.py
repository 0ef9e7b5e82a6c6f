"""Integration tests: fixtures beside the suite-wide ones in ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_aggregator_support import started_count, stop_leftovers


@pytest.fixture(autouse=True)
def _no_leftover_services() -> Iterator[None]:
    """A test that fails half-way may leave ``modelmon run`` processes behind: end those it
    started, so they never consume, flush or evaluate into the tests that follow. Processes of
    module- or session-scoped fixtures are started before this fixture's mark and stay."""
    mark = started_count()
    yield
    stop_leftovers(mark)
