"""The HTTP API and web dashboard: ``modelmon run api``; see ``docs/api.md``."""

from .main import command

__all__ = ["command"]
