"""HTTP ingest: ``POST /v1/capture`` for producers in any language.

``modelmon run ingest``; see ``docs/capture.md``.
"""

from .main import command

__all__ = ["command"]
