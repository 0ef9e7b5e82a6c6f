"""Integration tests: fixtures beside the suite-wide ones in ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .test_aggregator_support import stop_leftovers


@pytest.fixture(autouse=True)
def _no_leftover_services() -> Iterator[None]:
    """A test that fails half-way may leave ``modelmon run`` processes behind: end them, so
    they never consume, flush or evaluate into the tests that follow."""
    yield
    stop_leftovers()
