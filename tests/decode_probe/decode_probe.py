"""Test-only: notes which processes decode capture events (tests/decode_paths.py, docs/decode.md).

``native_decode.decode_mixed`` is the one place where ``MODELMON_NATIVE`` changes what happens
(the aggregator's intake calls it for every batch; it returns None on the pure-Python path), so
a process that never calls it behaves the same on both paths. ``watch`` wraps it: in the pytest
process itself a call adds to ``calls``; in any other process (a ``modelmon run aggregator`` or
``modelmon demo run`` a test started, their children, a fork) the first call creates the file
``$MODELMON_TEST_DECODE_MARKS/<pid>``. Child processes get the wrapper from ``sitecustomize``
beside this file (the pytest plugin puts this folder on their ``PYTHONPATH``).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

MARKS = "MODELMON_TEST_DECODE_MARKS"
TARGET = "modelmon.streaming.native_decode"

#: decode_mixed calls in the process that called ``count_in_memory``.
calls = 0
_state: dict[str, Any] = {"counting_pid": None, "written": set()}


def count_in_memory() -> None:
    """Calls in this process add to ``calls``; a fork of it still writes its mark file."""
    _state["counting_pid"] = os.getpid()


def _note() -> None:
    global calls
    pid = os.getpid()
    if pid == _state["counting_pid"]:
        calls += 1
        return
    marks = os.environ.get(MARKS)
    if marks and pid not in _state["written"]:
        _state["written"].add(pid)
        Path(marks, str(pid)).touch()


def watch(module: ModuleType) -> None:
    """Wrap ``module.decode_mixed`` (and every name already bound to it by a from-import)."""
    original = module.decode_mixed
    if getattr(original, "__decode_probe__", False):
        return

    @functools.wraps(original)
    def decode_mixed(*args: Any, **kwargs: Any) -> Any:
        _note()
        return original(*args, **kwargs)

    decode_mixed.__decode_probe__ = True  # type: ignore[attr-defined]
    for other in list(sys.modules.values()):
        if other is not None and vars(other).get("decode_mixed") is original:
            other.decode_mixed = decode_mixed  # type: ignore[attr-defined]
    module.decode_mixed = decode_mixed  # type: ignore[attr-defined]


class _WatchOnImport(importlib.abc.MetaPathFinder):
    """Wraps the decoder module right after it is first imported (children only)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            execute(module)
            watch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install_in_child() -> None:
    """Called by ``sitecustomize``: watch the decoder when this process imports it."""
    if os.environ.get(MARKS):
        sys.meta_path.insert(0, _WatchOnImport())
