"""The label join: ground-truth labels meet predictions by inference id; quality per window.

``modelmon run labeljoin``; any number of processes (one router group, one join group; give
each a stable ``MODELMON_LABELJOIN__INSTANCE_ID``). See ``docs/model-quality.md`` and
``docs/decisions/0003-label-join.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelmon.runtime import Runtime, service_command

if TYPE_CHECKING:
    from .service import LabelJoinService


def build(rt: Runtime) -> LabelJoinService:
    from .main import wire

    return wire(rt.settings, rt.stop, rt.health, rt.registry)


command = service_command(
    "labeljoin",
    build,
    help="Join ground-truth labels to predictions and evaluate model quality per window.",
)
