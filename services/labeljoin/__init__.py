"""The label join: ground-truth labels meet predictions by inference id; quality per window.

``modelmon run labeljoin``; any number of processes (one router group, one join group). See
``docs/model-quality.md`` and ``docs/decisions/0003-label-join.md``.
"""

from .main import command

__all__ = ["command"]
