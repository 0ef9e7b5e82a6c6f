"""One model's part of a mixed batch that the native decoder decoded once (pure: numpy).

``DecodedBatch.groups`` maps each model of a batch to a ``ModelGroup``: the batch positions of
its events and its columns as a ``Block``, two matrices (features x rows) and the columns that
keep Python values, so the decoder hands over a handful of objects per model and batch whatever
its number of features; a window's columns are cut from it when the aggregator folds them in.
The rules these columns follow: docs/decode.md ("The typing rules").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from modelmon.profile.numbers import Numbers
from modelmon.streaming.decode import Column, Inputs, Int64Array, take


@dataclass(frozen=True, slots=True)
class ModelGroup:
    """One model's events in a mixed batch: their (sorted) ``positions`` in the batch, and
    their columns as a ``Block`` (the native decoder) or their ``inputs`` dicts."""

    positions: Int64Array
    block: Block | None = None
    inputs: list[Inputs] = field(default_factory=list)

    def subset(self, new_of_old: Int64Array) -> ModelGroup:
        """The events kept by a batch subset (``new_of_old``: new position, or -1 if dropped)."""
        moved = new_of_old[self.positions]
        rows = np.flatnonzero(moved >= 0)
        return ModelGroup(
            positions=moved[rows],
            block=None if self.block is None else self.block.take(rows),
            inputs=take(self.inputs, rows) if self.inputs else [],
        )


#: ``Block.tags`` values (native/src/batch.rs ``Tag``): what each row of a column holds.
ABSENT, MISSING, INT, FLOAT, BOOL, STR = range(6)


@dataclass(frozen=True, slots=True)
class Block:
    """A model's columns in one batch as two matrices (features x rows): ``floats`` (NaN where
    not a number) and ``tags`` (what each value was: ``ABSENT`` ... ``STR``); ``objects`` holds
    the columns that keep Python values (strings, bools, ints beyond 2**53). The first
    ``planned`` names are the model's configured features."""

    names: list[str]
    planned: int
    floats: npt.NDArray[np.float64]
    tags: npt.NDArray[np.uint8]
    objects: dict[str, Column]

    def take(self, rows: Int64Array) -> Block:
        objects = {name: col[rows] for name, col in self.objects.items()}
        return Block(self.names, self.planned, self.floats[:, rows], self.tags[:, rows], objects)

    def columns(self, rows: Int64Array) -> dict[str, Column | Numbers]:
        """The columns at these rows: every configured feature, and the others where one of
        these events has them (as the reference builds them from dicts)."""
        every = len(rows) == self.tags.shape[1]
        part = self if every else self.take(rows)
        ints = part.tags == INT
        has_int = ints.any(axis=1)
        present = (part.tags[self.planned :] != ABSENT).any(axis=1)
        out: dict[str, Column | Numbers] = {}
        for j, name in enumerate(self.names):
            if j >= self.planned and not present[j - self.planned]:
                continue
            obj = part.objects.get(name)
            if obj is not None:
                out[name] = obj
            else:
                out[name] = Numbers(part.floats[j], ints[j] if has_int[j] else None)
        return out
