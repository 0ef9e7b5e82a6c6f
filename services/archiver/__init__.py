"""The archiver: capture topic -> SageMaker-layout JSON Lines on S3 or a local directory.

``modelmon run archiver``; see ``docs/capture.md``.
"""

from .main import command

__all__ = ["command"]
