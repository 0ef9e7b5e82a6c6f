"""The capture proxy: a reverse proxy in front of a model server that captures its traffic.

``modelmon run capture-proxy --upstream URL --model ID``; see ``docs/capture.md``.
"""

from .main import command

__all__ = ["command"]
