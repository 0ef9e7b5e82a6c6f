"""Test-only (on PYTHONPATH of the processes a recording test run starts): see decode_probe.py.

Runs any other ``sitecustomize`` on the path after this one, as Python would have.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

import decode_probe

decode_probe.install_in_child()

_here = os.path.dirname(os.path.abspath(__file__))
_rest = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_spec = importlib.machinery.PathFinder.find_spec("sitecustomize", _rest)
if _spec is not None and _spec.loader is not None:
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
