"""Data capture: the SDK (``CaptureClient``) and SageMaker capture-record mapping.

``CaptureClient`` is imported lazily so that the pure mapping in
``modelmon.capture.sagemaker`` can be used without loading confluent-kafka.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelmon.capture.client import CaptureClient

__all__ = ["CaptureClient"]


def __getattr__(name: str) -> Any:
    if name == "CaptureClient":
        from modelmon.capture.client import CaptureClient

        return CaptureClient
    raise AttributeError(name)
