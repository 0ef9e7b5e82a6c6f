"""modelmon: streaming, exactly-once ML model monitoring on Kafka and Redis.

The library holds everything that is not a run loop: event models, profiles and sketches,
drift distances, constraint checks, SageMaker formats, the capture SDK and thin adapters.

In a notebook: ``import modelmon as mm``; ``mm.profile(df)``, ``mm.baseline(df, label=...)``
and ``mm.compare(baseline_or_df, df)`` (see docs/python.md). They are imported on first use,
so ``import modelmon`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from modelmon.notebook import Comparison, Profile, baseline, compare, load_baseline

#: ``profile`` is also the subpackage modelmon.profile, which is callable: ``mm.profile(df)``.
__all__ = ["Comparison", "Profile", "baseline", "compare", "load_baseline", "profile"]


def __getattr__(name: str) -> Any:
    if name == "profile":
        import modelmon.profile

        return modelmon.profile
    if name in __all__:
        from modelmon import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'modelmon' has no attribute {name!r}")
