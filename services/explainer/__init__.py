"""``modelmon run explainer``: SHAP attributions of sampled captures, as attribution events.

Consumes the capture topic (group ``modelmon-explainer``), explains the sampled events of each
model whose config has an ``explainer:`` section (TreeExplainer on a tree-ensemble artefact,
Kernel SHAP against the model's endpoint within its request budget) and produces attribution
events to ``modelmon.attributions.v1``, exactly once (Kafka transactions). Options are the
``explainer`` settings (``MODELMON_EXPLAINER__MODELS_DIR`` or ``--models-dir``). See
docs/explainer.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from .service import ExplainerService


def build(rt: Runtime) -> ExplainerService:
    from .main import wire

    return wire(rt.settings, rt.stop, rt.health, rt.registry)


command = service_command(
    "explainer",
    build,
    help="Explain sampled captures with SHAP and publish attribution events.",
)
