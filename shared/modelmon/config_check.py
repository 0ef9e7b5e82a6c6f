"""A model config checked whole before it is stored: every drift method, kind and threshold.

``modelmon model register`` and ``modelmon baseline push`` call ``check_config``; what it
refuses would otherwise fail every window later, in the detector. Errors are
``ConfigurationError`` naming the field (``features[2].drift_method``, ``drift.numeric_method``).
With the model's baseline at hand, the batch CLI's validator (``checks.validate``) also
resolves every feature's policy against it, as ``modelmon monitor`` does before reading data.
"""

from __future__ import annotations

from modelmon.checks import Baseline, validate
from modelmon.config import ModelConfig
from modelmon.drift.registry import available_methods, get_method
from modelmon.errors import ConfigurationError


def _method(field: str, name: str, kind: str | None) -> None:
    try:
        method = get_method(name)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{field}: {exc}") from exc
    if kind is not None and kind not in method.kinds:
        raise ConfigurationError(
            f"{field}: drift method {name!r} compares {'/'.join(sorted(method.kinds))} "
            f"features, not {kind}; choose one of {', '.join(available_methods(kind))}"
        )


def check_config(config: ModelConfig, baseline: Baseline | None = None) -> None:
    """Raise ConfigurationError (naming the field) for anything no window could evaluate."""
    _method("drift.numeric_method", config.drift.numeric_method, "numeric")
    _method("drift.categorical_method", config.drift.categorical_method, "categorical")
    for i, feature in enumerate(config.features):
        if feature.drift_method is not None:
            kind = feature.kind
            if kind is None and baseline is not None and feature.name in baseline.feature_names:
                kind = baseline.kind(feature.name)
            _method(f"features[{i}].drift_method ({feature.name})", feature.drift_method, kind)
    if baseline is not None:
        try:
            validate(baseline, config)
        except ConfigurationError as exc:
            raise ConfigurationError(f"model {config.model_id} with its baseline: {exc}") from exc
